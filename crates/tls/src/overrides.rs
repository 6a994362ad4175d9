//! Environment overrides for configuration files, shared by `certbound
//! serve` and `certbound gateway`: `PREFIX` + a key path in capitals with
//! `__` between levels sets that key (`CERTBOUND_LISTENERS__MTLS__ADDR`
//! sets `listeners.mtls.addr`). Each program has its own prefix, so one
//! host's environment can configure both without either reading the other's.

use crate::TlsError;

/// The keys a set of overrides changed, to name the variable when a value it
/// set turns out to be wrong.
#[derive(Debug, Clone, Default)]
pub struct EnvOverrides {
    /// (dotted key, variable name), in the order applied.
    applied: Vec<(String, String)>,
}

impl EnvOverrides {
    /// Whether no variable applied.
    pub fn is_empty(&self) -> bool {
        self.applied.is_empty()
    }

    /// The variable that set `key` (as serde paths write it: `a.b`,
    /// `routes[0].x`) or a table above it; the last one applied wins.
    pub fn variable_for(&self, key: &str) -> Option<&str> {
        self.applied
            .iter()
            .rev()
            .find(|(set, _)| {
                key.strip_prefix(set.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
            })
            .map(|(_, var)| var.as_str())
    }
}

/// Applies to `table` every variable in `env` named `prefix` + one of
/// `sections` (upper case) + optionally `__`-separated deeper keys. Other
/// variables, such as `CERTBOUND_LOG`, are not configuration and are skipped.
///
/// A value is read as a TOML literal when it parses as one (`42`, `true`,
/// `["a", "b"]`), else as a string. A variable whose path runs through a
/// value that is not a table is an error naming the variable.
pub fn apply_env_overrides(
    table: &mut toml::Table,
    prefix: &str,
    sections: &[&str],
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<EnvOverrides, TlsError> {
    let mut applied = EnvOverrides::default();
    for (name, value) in env {
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        let keys: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if !keys
            .first()
            .is_some_and(|section| sections.contains(&section.as_str()))
        {
            continue;
        }
        let dotted = keys.join(".");
        set(table, &keys, &value).map_err(|message| TlsError::Override {
            var: name.clone(),
            message,
        })?;
        applied.applied.push((dotted, name));
    }
    Ok(applied)
}

fn set(table: &mut toml::Table, keys: &[String], value: &str) -> Result<(), String> {
    let Some((last, parents)) = keys.split_last() else {
        return Ok(());
    };
    if keys.iter().any(String::is_empty) {
        return Err("empty key between `__` separators".into());
    }
    let mut current = table;
    for (depth, k) in parents.iter().enumerate() {
        let entry = current
            .entry(k.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(next) = entry else {
            return Err(format!(
                "`{}` is a {}, not a table, so it has no key `{}`",
                keys[..=depth].join("."),
                entry.type_str(),
                keys[depth + 1]
            ));
        };
        current = next;
    }
    // Try the value as a TOML literal (42, true, ["a"]), else as a string.
    let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()));
    current.insert(last.clone(), parsed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn sets_nested_keys_with_types_and_skips_other_variables() {
        let mut t: toml::Table = toml::from_str("[a]\nb = 1\n").unwrap_or_else(|e| panic!("{e}"));
        let applied = apply_env_overrides(
            &mut t,
            "P_",
            &["a", "c"],
            env(&[
                ("P_A__B", "2"),
                ("P_C__D__E", "text"),
                ("P_LOG", "debug"),
                ("OTHER", "x"),
            ]),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t["a"]["b"].as_integer(), Some(2));
        assert_eq!(t["c"]["d"]["e"].as_str(), Some("text"));
        assert!(!t.contains_key("log"));
        assert_eq!(applied.variable_for("a.b"), Some("P_A__B"));
        assert_eq!(applied.variable_for("c.d.e[0]"), Some("P_C__D__E"));
        assert_eq!(applied.variable_for("a.bc"), None);
        assert_eq!(applied.variable_for("a"), None);
    }

    #[test]
    fn a_path_through_a_value_names_the_variable() {
        let mut t: toml::Table = toml::from_str("[a]\nb = 1\n").unwrap_or_else(|e| panic!("{e}"));
        match apply_env_overrides(&mut t, "P_", &["a"], env(&[("P_A__B__C", "2")])) {
            Err(TlsError::Override { var, message }) => {
                assert_eq!(var, "P_A__B__C");
                assert_eq!(
                    message,
                    "`a.b` is a integer, not a table, so it has no key `c`"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
