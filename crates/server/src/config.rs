//! `certbound.toml`: one file, every key documented in `docs/config.md`,
//! overridable by `CERTBOUND_*` environment variables (`__` separates
//! levels: `CERTBOUND_STORAGE__URL`, `CERTBOUND_LISTENERS__MTLS__ADDR`),
//! validated at start with errors that name the key and the fix.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::keys::SigningAlg;

/// Why a configuration cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{} is not valid TOML: {message}", .path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Parser message with line and column.
        message: String,
    },
    /// A key has a wrong type, is unknown, or is missing.
    #[error("{}: key `{key}`: {message}", .path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// Dotted key path, e.g. `listeners.mtls.addr`.
        key: String,
        /// What is wrong and what to write instead.
        message: String,
    },
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Issuer identifier (`iss`); defaults to the URL of the public listener,
    /// else of the mTLS listener.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Where state lives.
    pub storage: StorageConfig,
    /// Server certificate and client-CA bundle.
    #[serde(default)]
    pub tls: TlsConfig,
    /// Which listeners to run.
    #[serde(default)]
    pub listeners: ListenersConfig,
    /// Access-token settings.
    #[serde(default)]
    pub tokens: TokensConfig,
    /// Server-wide client policy.
    #[serde(default)]
    pub clients: ClientPolicyConfig,
    /// Signing-key handling.
    #[serde(default)]
    pub keys: KeysConfig,
}

/// `[storage]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// `sqlite://PATH` (relative to the config file) or `postgres://…`.
    pub url: String,
}

/// `[tls]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Server certificate chain, PEM.
    pub cert: Option<PathBuf>,
    /// Server private key, PEM.
    pub key: Option<PathBuf>,
    /// CAs trusted for `tls_client_auth`, PEM.
    pub client_ca: Option<PathBuf>,
}

/// `[listeners]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenersConfig {
    /// HTTPS requesting client certificates.
    pub mtls: Option<ListenerConfig>,
    /// HTTPS without a certificate request, for browsers and secret-based clients.
    pub public: Option<ListenerConfig>,
    /// Plain HTTP behind a TLS-terminating proxy.
    pub proxy: Option<ProxyListenerConfig>,
    /// `[listeners.limits]`: timeouts and connection limits, applied to each
    /// listener separately.
    #[serde(default)]
    pub limits: certbound_tls::ConnectionLimits,
}

/// `[listeners.mtls]` / `[listeners.public]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// Address to bind, e.g. `127.0.0.1:8443` (port 0 picks one).
    pub addr: SocketAddr,
    /// URL clients use to reach it; defaults to `https://localhost:PORT`.
    #[serde(default)]
    pub url: Option<String>,
}

/// `[listeners.proxy]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyListenerConfig {
    /// Address to bind.
    pub addr: SocketAddr,
    /// Public URL of the proxy in front (required: only it knows its name).
    pub url: String,
    /// Peers whose certificate headers are honoured (IPs or CIDR blocks).
    pub trusted_proxies: Vec<String>,
    /// The one header those peers send the certificate in: `rfc9440`
    /// (`Client-Cert`), `nginx` (`X-SSL-Client-Cert`) or `envoy` (XFCC).
    pub certificate_header: String,
}

/// `[tokens]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokensConfig {
    /// Access-token lifetime in seconds.
    pub access_token_ttl: u64,
    /// JWS algorithm for new signing keys: ES256, PS256 or EdDSA.
    pub signing_alg: SigningAlg,
    /// `aud` for clients without their own audience; defaults to the issuer.
    pub default_audience: Option<String>,
}

impl Default for TokensConfig {
    fn default() -> Self {
        Self {
            access_token_ttl: 300,
            signing_alg: SigningAlg::Es256,
            default_audience: None,
        }
    }
}

/// `[clients]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientPolicyConfig {
    /// Whether `client_secret_basic` / `client_secret_post` are accepted.
    pub allow_client_secret: bool,
    /// How often an instance checks the store for client changes made by
    /// any process; parsed records are cached in between. 0 disables the
    /// cache (one store read per request).
    pub cache_seconds: u64,
}

impl Default for ClientPolicyConfig {
    fn default() -> Self {
        Self {
            allow_client_secret: true,
            cache_seconds: 1,
        }
    }
}

/// `[keys]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// How long an instance trusts its cached key set before re-reading it
    /// (keys rotated by another process appear within this time).
    pub cache_seconds: u64,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self { cache_seconds: 10 }
    }
}

/// Prefix of environment variables that override file values.
pub const ENV_PREFIX: &str = "CERTBOUND_";

/// The top-level keys of the file; `CERTBOUND_<KEY>…` overrides only these.
const TOP_LEVEL_KEYS: [&str; 7] = [
    "issuer",
    "storage",
    "tls",
    "listeners",
    "tokens",
    "clients",
    "keys",
];

impl Config {
    /// Reads, overrides from the environment, validates, and resolves
    /// relative paths against the file's directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, path, std::env::vars())
    }

    /// As [`Config::load`], from text and an explicit environment.
    pub fn from_toml(
        text: &str,
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            message: e.to_string().trim().to_owned(),
        })?;
        for (name, value) in env {
            // Only names that start with a config section are overrides;
            // CERTBOUND_LOG (the log filter) and others are not config.
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let section = rest
                .split("__")
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if TOP_LEVEL_KEYS.contains(&section.as_str()) {
                apply_override(&mut table, rest, &value);
            }
        }
        let mut config: Config = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| ConfigError::Key {
                path: path.to_owned(),
                key: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        config.validate(path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let key_err = |key: &str, message: String| ConfigError::Key {
            path: path.to_owned(),
            key: key.to_owned(),
            message,
        };
        let l = &self.listeners;
        if l.mtls.is_none() && l.public.is_none() && l.proxy.is_none() {
            return Err(key_err(
                "listeners",
                "no listener configured; add [listeners.mtls] with addr = \"127.0.0.1:8443\""
                    .into(),
            ));
        }
        if (l.mtls.is_some() || l.public.is_some())
            && (self.tls.cert.is_none() || self.tls.key.is_none())
        {
            return Err(key_err(
                "tls",
                "HTTPS listeners need tls.cert and tls.key (PEM files); `certbound pki init` makes them".into(),
            ));
        }
        l.limits
            .validate()
            .map_err(|(key, m)| key_err(&format!("listeners.limits.{key}"), m))?;
        if let Some(issuer) = &self.issuer {
            check_https_url(issuer).map_err(|m| key_err("issuer", m))?;
        }
        for (key, url) in [
            (
                "listeners.mtls.url",
                l.mtls.as_ref().and_then(|m| m.url.as_ref()),
            ),
            (
                "listeners.public.url",
                l.public.as_ref().and_then(|m| m.url.as_ref()),
            ),
            ("listeners.proxy.url", l.proxy.as_ref().map(|p| &p.url)),
        ] {
            if let Some(url) = url {
                check_https_url(url).map_err(|m| key_err(key, m))?;
            }
        }
        if let Some(proxy) = &l.proxy {
            certbound_tls::TrustedProxies::parse(&proxy.trusted_proxies)
                .map_err(|e| key_err("listeners.proxy.trusted_proxies", e.to_string()))?;
            if certbound_tls::CertificateHeader::parse(&proxy.certificate_header).is_none() {
                return Err(key_err(
                    "listeners.proxy.certificate_header",
                    format!(
                        "'{}' is not one of {}",
                        proxy.certificate_header,
                        certbound_tls::CertificateHeader::NAMES.join(", ")
                    ),
                ));
            }
            if proxy.trusted_proxies.is_empty() {
                return Err(key_err(
                    "listeners.proxy.trusted_proxies",
                    "empty: list the proxy's address, e.g. [\"127.0.0.1\"]".into(),
                ));
            }
        }
        let url = &self.storage.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(key_err(
                "storage.url",
                format!("'{url}' is neither sqlite://PATH nor postgres://…"),
            ));
        }
        if self.tokens.access_token_ttl == 0 || self.tokens.access_token_ttl > 86_400 {
            return Err(key_err(
                "tokens.access_token_ttl",
                "must be between 1 and 86400 seconds".into(),
            ));
        }
        Ok(())
    }

    fn resolve_paths(&mut self, base: &Path) {
        for p in [
            &mut self.tls.cert,
            &mut self.tls.key,
            &mut self.tls.client_ca,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        if let Some(rest) = self.storage.url.strip_prefix("sqlite://") {
            let (file, query) = rest
                .split_once('?')
                .map_or((rest, None), |(f, q)| (f, Some(q)));
            if !file.is_empty() && Path::new(file).is_relative() {
                let joined = base.join(file);
                self.storage.url = match query {
                    Some(q) => format!("sqlite://{}?{q}", joined.display()),
                    None => format!("sqlite://{}", joined.display()),
                };
            }
        }
    }
}

fn check_https_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| format!("'{url}' must start with https://"))?;
    if rest.is_empty() || rest.contains(['?', '#', ' ']) || url.ends_with('/') {
        return Err(format!(
            "'{url}' must be https://host[:port][/path] without query, fragment or trailing slash"
        ));
    }
    Ok(())
}

/// Sets `a.b.c` from `CERTBOUND_A__B__C`, keeping the type of an existing
/// value where the text parses as it (numbers, booleans, arrays as JSON-ish lists).
fn apply_override(table: &mut toml::Table, name: &str, value: &str) {
    let keys: Vec<String> = name.split("__").map(str::to_ascii_lowercase).collect();
    let Some((last, parents)) = keys.split_last() else {
        return;
    };
    let mut current = table;
    for k in parents {
        let entry = current
            .entry(k.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(next) = entry else {
            return;
        };
        current = next;
    }
    // Try the value as a TOML literal (42, true, ["a"]), else as a string.
    let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()));
    current.insert(last.clone(), parsed);
}

/// The config file `certbound serve` writes on first start.
pub fn dev_config_text(mtls_addr: &str) -> String {
    format!(
        r#"# certbound configuration; every key is documented in docs/config.md.
# Paths are relative to this file. Override any key with CERTBOUND_<SECTION>__<KEY>.

[storage]
url = "sqlite://certbound.db"

[tls]
cert = "pki/server.pem"
key = "pki/server.key"
client_ca = "pki/ca.pem"

[listeners.mtls]
addr = "{mtls_addr}"

[tokens]
access_token_ttl = 300
signing_alg = "ES256"

[clients]
allow_client_secret = true
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        Config::from_toml(text, Path::new("/etc/certbound/certbound.toml"), env)
    }

    #[test]
    fn dev_config_loads_and_resolves_paths() {
        let c = match load(&dev_config_text("127.0.0.1:8443"), &[]) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(c.storage.url, "sqlite:///etc/certbound/certbound.db");
        assert_eq!(
            c.tls.cert.as_deref(),
            Some(Path::new("/etc/certbound/pki/server.pem"))
        );
        assert_eq!(c.tokens.signing_alg, SigningAlg::Es256);
    }

    #[test]
    fn env_overrides_nested_keys_with_types() {
        let c = load(
            &dev_config_text("127.0.0.1:8443"),
            &[
                ("CERTBOUND_LISTENERS__MTLS__ADDR", "127.0.0.1:0"),
                ("CERTBOUND_TOKENS__ACCESS_TOKEN_TTL", "60"),
                ("CERTBOUND_STORAGE__URL", "postgres://db/x"),
                ("OTHER", "ignored"),
                ("CERTBOUND_LOG", "debug"),
                ("CERTBOUND_TEST_PG_URL", "postgres://elsewhere"),
            ],
        );
        let c = c.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.listeners.mtls.map(|m| m.addr.port()), Some(0));
        assert_eq!(c.tokens.access_token_ttl, 60);
        assert_eq!(c.storage.url, "postgres://db/x");
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (
                "[storage]\nurl = 5\n[listeners.mtls]\naddr=\"127.0.0.1:1\"",
                "storage.url",
            ),
            (
                "[storage]\nurl = \"mysql://x\"\n[listeners.proxy]\naddr=\"127.0.0.1:1\"\nurl=\"https://x\"\ntrusted_proxies=[\"10.0.0.0/8\"]\ncertificate_header=\"nginx\"",
                "storage.url",
            ),
            (
                "[storage]\nurl = \"sqlite://x\"\n[listeners.mtls]\naddr=\"nope\"",
                "listeners.mtls.addr",
            ),
            (
                "[storage]\nurl = \"sqlite://x\"\n[listeners.mtls]\naddr=\"127.0.0.1:1\"\ncolour=1",
                "listeners.mtls.colour",
            ),
            ("[storage]\nurl = \"sqlite://x\"", "listeners"),
            (
                "[storage]\nurl = \"sqlite://x\"\n[listeners.mtls]\naddr=\"127.0.0.1:1\"",
                "tls",
            ),
            (
                "issuer=\"http://x\"\n[storage]\nurl = \"sqlite://x\"\n[tls]\ncert=\"a\"\nkey=\"b\"\n[listeners.mtls]\naddr=\"127.0.0.1:1\"",
                "issuer",
            ),
            (
                "[storage]\nurl = \"sqlite://x\"\n[tokens]\nsigning_alg=\"HS256\"\n[listeners.mtls]\naddr=\"127.0.0.1:1\"",
                "tokens.signing_alg",
            ),
            (
                "[storage]\nurl = \"sqlite://x\"\n[listeners.proxy]\naddr=\"127.0.0.1:1\"\nurl=\"https://x\"\ntrusted_proxies=[\"bogus\"]\ncertificate_header=\"nginx\"",
                "listeners.proxy.trusted_proxies",
            ),
            (
                "[storage]\nurl = \"sqlite://x\"\n[listeners.proxy]\naddr=\"127.0.0.1:1\"\nurl=\"https://x\"\ntrusted_proxies=[\"10.0.0.1\"]\ncertificate_header=\"haproxy\"",
                "listeners.proxy.certificate_header",
            ),
        ];
        for (text, key) in cases {
            match load(text, &[]) {
                Err(ConfigError::Key {
                    key: k, message, ..
                }) => assert_eq!(k, key, "{text}: {message}"),
                other => panic!("{text}: expected a key error for {key}, got {other:?}"),
            }
        }
        assert!(matches!(
            load("[storage", &[]),
            Err(ConfigError::Syntax { .. })
        ));
    }

    #[test]
    fn listener_limits_default_load_override_and_name_the_key() {
        let dev = dev_config_text("127.0.0.1:8443");
        let c = load(&dev, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.listeners.limits,
            certbound_tls::ConnectionLimits::default()
        );
        let text = format!("{dev}\n[listeners.limits]\nidle_timeout_secs = 5\n");
        let env = [("CERTBOUND_LISTENERS__LIMITS__MAX_CONNECTIONS_PER_IP", "7")];
        let c = load(&text, &env).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.listeners.limits.idle_timeout_secs, 5);
        assert_eq!(c.listeners.limits.max_connections_per_ip, 7);
        assert_eq!(c.listeners.limits.header_read_timeout_secs, 20);
        for (limits, key, message) in [
            (
                "idle_timeout_secs = 0",
                "listeners.limits.idle_timeout_secs",
                "must be at least 1 (0 would disable the limit); raise it instead",
            ),
            (
                "body_read_timeout_secs = 86401",
                "listeners.limits.body_read_timeout_secs",
                "must be at most 86400 (one day)",
            ),
            (
                "max_connections = 10\nmax_connections_per_ip = 11",
                "listeners.limits.max_connections_per_ip",
                "must not exceed max_connections (10)",
            ),
            (
                "idle_timeout = 5",
                "listeners.limits.idle_timeout",
                "unknown field",
            ),
            (
                "max_connections = -1",
                "listeners.limits.max_connections",
                "invalid value",
            ),
        ] {
            let text = format!("{dev}\n[listeners.limits]\n{limits}\n");
            match load(&text, &[]) {
                Err(ConfigError::Key {
                    key: k, message: m, ..
                }) => {
                    assert_eq!(k, key, "{limits}: {m}");
                    assert!(m.starts_with(message), "{limits}: {m}");
                }
                other => panic!("{limits}: expected a key error, got {other:?}"),
            }
        }
    }
}
