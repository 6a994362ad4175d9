//! Storage URLs: which engine a URL selects and the URL sqlx gets.

use crate::StoreError;

/// Which engine a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Backend {
    /// A database file.
    Sqlite,
    /// A private in-memory database: one connection, kept open for the
    /// pool's lifetime (every new connection would see an empty database).
    SqliteMemory,
    /// A PostgreSQL server.
    Postgres,
}

/// Splits a storage URL into the backend and the URL handed to sqlx.
pub(super) fn parse_url(url: &str) -> Result<(Backend, String), StoreError> {
    if url == "sqlite::memory:" || url == "sqlite://:memory:" {
        return Ok((Backend::SqliteMemory, "sqlite::memory:".to_owned()));
    }
    if let Some(rest) = url.strip_prefix("sqlite://") {
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        if path.is_empty() {
            return Err(invalid("sqlite:// URL without a file path".to_owned()));
        }
        let mode = query.and_then(|q| q.split('&').find_map(|p| p.strip_prefix("mode=")));
        return Ok(match (mode, query) {
            (Some("memory"), _) => (Backend::SqliteMemory, url.to_owned()),
            (Some(_), _) => (Backend::Sqlite, url.to_owned()),
            (None, Some(_)) => (Backend::Sqlite, format!("{url}&mode=rwc")),
            (None, None) => (Backend::Sqlite, format!("{url}?mode=rwc")),
        });
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Backend::Postgres, url.to_owned()));
    }
    // Name only the scheme: the rest may hold a password.
    let what = match url.split_once(':') {
        Some(("sqlite", _)) => "SQLite URLs need the sqlite:// form".to_owned(),
        Some((scheme, _)) if !scheme.is_empty() => format!("unsupported scheme {scheme:?}"),
        _ if url.is_empty() => "empty URL".to_owned(),
        _ => "not a URL".to_owned(),
    };
    Err(invalid(what))
}

fn invalid(reason: String) -> StoreError {
    StoreError::InvalidUrl {
        reason,
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend_of(url: &str) -> Result<Backend, StoreError> {
        parse_url(url).map(|(b, _)| b)
    }

    #[test]
    fn sqlite_urls_get_create_mode() {
        assert!(
            matches!(parse_url("sqlite:///tmp/x.db"), Ok((Backend::Sqlite, u)) if u == "sqlite:///tmp/x.db?mode=rwc")
        );
        assert!(
            matches!(parse_url("sqlite://x.db?cache=private"), Ok((Backend::Sqlite, u)) if u == "sqlite://x.db?cache=private&mode=rwc")
        );
        assert!(
            matches!(parse_url("sqlite://x.db?mode=ro"), Ok((Backend::Sqlite, u)) if u == "sqlite://x.db?mode=ro")
        );
        for (url, backend) in [
            ("sqlite::memory:", Backend::SqliteMemory),
            ("sqlite://:memory:", Backend::SqliteMemory),
            ("sqlite://m?mode=memory", Backend::SqliteMemory),
            ("postgres://u@h/d", Backend::Postgres),
            ("postgresql://u@h/d", Backend::Postgres),
        ] {
            assert_eq!(backend_of(url).ok(), Some(backend), "{url}");
        }
    }

    #[test]
    fn other_urls_are_invalid_without_echoing_secrets() {
        for url in [
            "",
            "sqlite://",
            "sqlite://?mode=rwc",
            "sqlite:x.db",
            "mysql://u:hunter2@h/d",
            "x",
        ] {
            match parse_url(url) {
                Err(e @ StoreError::InvalidUrl { source: None, .. }) => {
                    let msg = e.to_string();
                    assert!(msg.contains("sqlite://PATH"), "{url}: {msg}");
                    assert!(!msg.contains("hunter2"), "{url}: {msg}");
                }
                other => panic!("{url}: expected InvalidUrl, got {other:?}"),
            }
        }
    }
}
