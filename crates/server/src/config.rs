//! `certbound.toml`: one file, every key documented in `docs/config.md`,
//! overridable by `CERTBOUND_*` environment variables (`__` separates
//! levels: `CERTBOUND_STORAGE__URL`, `CERTBOUND_LISTENERS__MTLS__ADDR`),
//! validated at start with errors that name the key and the fix.

use std::path::{Path, PathBuf};

use certbound_tls::{
    ConfigSource, ListenerKind, ListenerSettings, TlsError, TlsFiles, check_public_url,
};
use serde::Deserialize;

use crate::keys::SigningAlg;

mod login;
mod rate_limits;
mod refresh;

pub use login::LoginConfig;
pub use rate_limits::RateLimitsConfig;
pub use refresh::RefreshTokensConfig;

/// Why a configuration cannot be used (shared with the gateway's file).
pub use certbound_tls::ConfigError;

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
    pub tls: TlsFiles,
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
    /// Refresh tokens of the authorization code flow.
    #[serde(default)]
    pub refresh_tokens: RefreshTokensConfig,
    /// Sign-in at `/authorize`: built-in pages or a delegated login app.
    #[serde(default)]
    pub login: LoginConfig,
    /// Token buckets per address and per client where callers authenticate.
    #[serde(default)]
    pub rate_limits: RateLimitsConfig,
    /// What happens on SIGTERM before the listeners stop accepting.
    #[serde(default)]
    pub shutdown: certbound_tls::ShutdownSettings,
}

/// `[storage]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// `sqlite://PATH` (relative to the config file) or `postgres://…`.
    pub url: String,
    /// Most connections this instance opens (default 16 on PostgreSQL, 8
    /// on SQLite).
    #[serde(default)]
    pub max_connections: Option<u32>,
    /// Connections opened at start and kept open (default 0: opened as
    /// requests need them, closed after 10 idle minutes).
    #[serde(default)]
    pub min_connections: u32,
}

impl StorageConfig {
    /// The pool these settings describe.
    pub fn pool_size(&self) -> certbound_store::PoolSize {
        certbound_store::PoolSize {
            max: self.max_connections,
            min: self.min_connections,
        }
    }
}

/// `[listeners]`: each listener's table name is its mode, and the limits
/// apply to each of them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenersConfig {
    /// `[listeners.mtls]`: HTTPS requesting client certificates.
    pub mtls: Option<ListenerSettings>,
    /// `[listeners.public]`: HTTPS without a certificate request, for
    /// browsers and secret-based clients.
    pub public: Option<ListenerSettings>,
    /// `[listeners.proxy]`: plain HTTP behind a TLS-terminating proxy; `url`
    /// is required (only the proxy knows its name).
    pub proxy: Option<ListenerSettings>,
    /// `[listeners.limits]`: timeouts and connection limits, applied to each
    /// listener separately.
    #[serde(default)]
    pub limits: certbound_tls::ConnectionLimits,
}

/// The listener tables under `[listeners]`, each named after its mode.
const LISTENER_KINDS: [ListenerKind; 3] = [
    ListenerKind::Mtls,
    ListenerKind::Public,
    ListenerKind::Proxy,
];

impl ListenersConfig {
    /// The configured listeners with their dotted keys, in start order.
    pub fn configured(&self) -> impl Iterator<Item = (&'static str, &ListenerSettings)> {
        [
            ("listeners.mtls", self.mtls.as_ref()),
            ("listeners.public", self.public.as_ref()),
            ("listeners.proxy", self.proxy.as_ref()),
        ]
        .into_iter()
        .filter_map(|(key, l)| l.map(|l| (key, l)))
    }
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
    /// How long `certbound keys rotate` publishes the next key before it
    /// signs; unset: [`KeysConfig::prepublish_seconds`]'s default.
    #[serde(rename = "prepublish_seconds")]
    pub prepublish: Option<u64>,
    /// The key-encryption key the signing keys are sealed under (relative
    /// to the config file); or `CERTBOUND_KEK` holds the key itself.
    pub kek_file: Option<PathBuf>,
    /// Earlier KEKs, still accepted for opening keys during a KEK rotation
    /// until `certbound keys rewrap` has resealed them.
    pub previous_kek_files: Vec<PathBuf>,
    /// `CERTBOUND_KEK` as the config was loaded, never from the file.
    #[serde(skip)]
    kek_from_env: Option<KekText>,
}

/// `Cache-Control: max-age` of `/jwks`, seconds.
pub const JWKS_MAX_AGE_SECONDS: u64 = 60;
/// How long a certbound gateway or guard keeps a JWKS before fetching it
/// again by default (`jwks_max_age` in the guard), seconds.
pub const VERIFIER_JWKS_MAX_AGE_SECONDS: u64 = 300;

impl KeysConfig {
    /// How long a rotation publishes the next key before it signs: as set,
    /// or long enough for every instance to re-read its keys
    /// (`cache_seconds`), for HTTP caches of `/jwks` to expire and for
    /// verifiers to refresh their copy on their own schedule.
    pub fn prepublish_seconds(&self) -> u64 {
        self.prepublish
            .unwrap_or(self.cache_seconds + JWKS_MAX_AGE_SECONDS + VERIFIER_JWKS_MAX_AGE_SECONDS)
    }

    /// The KEK given in `CERTBOUND_KEK` when the config was loaded.
    pub fn kek_from_env(&self) -> Option<&str> {
        self.kek_from_env.as_ref().map(|t| t.0.as_str())
    }
}

/// A KEK's text, kept out of `Debug` output.
#[derive(Clone)]
struct KekText(String);

impl std::fmt::Debug for KekText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KekText(..)")
    }
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            cache_seconds: 10,
            prepublish: None,
            kek_file: None,
            previous_kek_files: Vec::new(),
            kek_from_env: None,
        }
    }
}

/// Prefix of environment variables that override file values.
pub const ENV_PREFIX: &str = "CERTBOUND_";

/// The top-level keys of the file; `CERTBOUND_<KEY>…` overrides only these.
const TOP_LEVEL_KEYS: [&str; 11] = [
    "issuer",
    "storage",
    "tls",
    "listeners",
    "tokens",
    "clients",
    "keys",
    "refresh_tokens",
    "login",
    "rate_limits",
    "shutdown",
];

impl Config {
    /// Reads, overrides from the environment, validates, and resolves
    /// relative paths against the file's directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = ConfigSource::read(path)?;
        Self::from_toml(&text, path, std::env::vars())
    }

    /// As [`Config::load`], from text and an explicit environment.
    pub fn from_toml(
        text: &str,
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        // Only names that start with a config section are overrides;
        // CERTBOUND_LOG (the log filter), CERTBOUND_KEK and others are not.
        let env: Vec<(String, String)> = env.into_iter().collect();
        let kek_from_env = env
            .iter()
            .find(|(name, _)| name == crate::kek::KEK_ENV)
            .map(|(_, value)| KekText(value.clone()));
        let mut source = ConfigSource::parse(text, path, ENV_PREFIX, &TOP_LEVEL_KEYS, env)?;
        name_listener_modes(&mut source.table).map_err(|(key, m)| source.key_error(key, m))?;
        let table = std::mem::take(&mut source.table);
        let mut config: Config = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| source.key_error(e.path().to_string(), e.inner().to_string()))?;
        config
            .validate()
            .map_err(|(key, m)| source.key_error(key, m))?;
        config.keys.kek_from_env = kek_from_env;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        Ok(config)
    }

    /// Checks what the types alone cannot; the error is (dotted key, what to write instead).
    fn validate(&mut self) -> Result<(), (String, String)> {
        let key_err = |key: &str, message: String| (key.to_owned(), message);
        let l = &self.listeners;
        if l.mtls.is_none() && l.public.is_none() && l.proxy.is_none() {
            return Err(key_err(
                "listeners",
                "no listener configured; add [listeners.mtls] with addr = \"127.0.0.1:8443\""
                    .into(),
            ));
        }
        l.limits
            .validate()
            .map_err(|(key, m)| key_err(&format!("listeners.limits.{key}"), m))?;
        // One [listeners.limits] table for all listeners, so each carries a copy.
        let limits = l.limits.clone();
        for listener in [
            &mut self.listeners.mtls,
            &mut self.listeners.public,
            &mut self.listeners.proxy,
        ]
        .into_iter()
        .flatten()
        {
            listener.limits = limits.clone();
        }
        for (key, listener) in self.listeners.configured() {
            listener.validate(key, &self.tls).map_err(|e| match e {
                TlsError::Setting { key, message } => (key, message),
                other => (key.to_owned(), other.to_string()),
            })?;
        }
        if self
            .listeners
            .proxy
            .as_ref()
            .is_some_and(|p| p.url.is_none())
        {
            return Err(key_err(
                "listeners.proxy.url",
                "required: the proxy's public https:// URL (only the proxy knows the name clients use)".into(),
            ));
        }
        if let Some(issuer) = &self.issuer {
            check_public_url(issuer).map_err(|m| key_err("issuer", m))?;
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
        if self.storage.max_connections == Some(0) {
            return Err(key_err(
                "storage.max_connections",
                "must be at least 1".into(),
            ));
        }
        let default_max = if self.storage.url.starts_with("sqlite:") {
            certbound_store::SQLITE_MAX_CONNECTIONS
        } else {
            certbound_store::POSTGRES_MAX_CONNECTIONS
        };
        let max = self.storage.max_connections.unwrap_or(default_max);
        if self.storage.min_connections > max {
            return Err(key_err(
                "storage.min_connections",
                format!("must not exceed storage.max_connections ({max})"),
            ));
        }
        self.login.validate()?;
        self.rate_limits.validate()?;
        self.shutdown
            .validate()
            .map_err(|(key, message)| key_err(&format!("shutdown.{key}"), message))?;
        if self.tokens.access_token_ttl == 0 || self.tokens.access_token_ttl > 86_400 {
            return Err(key_err(
                "tokens.access_token_ttl",
                "must be between 1 and 86400 seconds".into(),
            ));
        }
        self.refresh_tokens.validate()?;
        Ok(())
    }

    fn resolve_paths(&mut self, base: &Path) {
        self.tls.resolve_paths(base);
        let keys = &mut self.keys;
        for file in keys.kek_file.iter_mut().chain(&mut keys.previous_kek_files) {
            if file.is_relative() {
                *file = base.join(&*file);
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

/// Gives each `[listeners.NAME]` table the `mode` its name implies, so the
/// shared listener type reads it; a table may not name a mode of its own or
/// limits of its own (`[listeners.limits]` holds them for all).
fn name_listener_modes(table: &mut toml::Table) -> Result<(), (String, String)> {
    let Some(toml::Value::Table(listeners)) = table.get_mut("listeners") else {
        return Ok(());
    };
    for kind in LISTENER_KINDS {
        let name = kind.name();
        let Some(toml::Value::Table(listener)) = listeners.get_mut(name) else {
            continue;
        };
        if listener.contains_key("mode") {
            return Err((
                format!("listeners.{name}.mode"),
                format!("the table name sets the mode ({name}); remove this key"),
            ));
        }
        if listener.contains_key("limits") {
            return Err((
                format!("listeners.{name}.limits"),
                "limits apply to every listener: set them in [listeners.limits]".into(),
            ));
        }
        listener.insert("mode".into(), toml::Value::String(name.into()));
    }
    Ok(())
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

[keys]
# Signing keys are stored sealed under this key-encryption key: keep it
# apart from database backups.
kek_file = "kek"

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
            (
                "[storage]\nurl = \"sqlite://x\"\n[tls]\ncert = \"a\"\nkey = \"b\"\n[listeners.mtls]\naddr=\"127.0.0.1:1\"\n[shutdown]\ndelay_seconds = 3601",
                "shutdown.delay_seconds",
            ),
            (
                "[storage]\nurl = \"sqlite://x\"\nmin_connections = 9\n[tls]\ncert = \"a\"\nkey = \"b\"\n[listeners.mtls]\naddr=\"127.0.0.1:1\"",
                "storage.min_connections",
            ),
            (
                "[storage]\nurl = \"postgres://x\"\nmax_connections = 0\n[tls]\ncert = \"a\"\nkey = \"b\"\n[listeners.mtls]\naddr=\"127.0.0.1:1\"",
                "storage.max_connections",
            ),
            (
                "[storage]\nurl = \"sqlite://x\"\n[listeners.proxy]\naddr=\"127.0.0.1:1\"\nurl=\"https://x\"\ntrusted_proxies=[\"10.0.0.1\"]\ncertificate_header=\"nginx\"\nclient_address_header=\"bad header\"",
                "listeners.proxy.client_address_header",
            ),
            (
                "[storage]\nurl = \"sqlite://x\"\n[tls]\ncert = \"a\"\nkey = \"b\"\n[listeners.mtls]\naddr=\"127.0.0.1:1\"\nclient_address_header=\"X-Real-IP\"",
                "listeners.mtls.client_address_header",
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
    fn a_bad_override_names_the_variable() {
        let dev = dev_config_text("127.0.0.1:8443");
        for (var, value, message) in [
            (
                "CERTBOUND_LISTENERS__MTLS__ADDR",
                "nope",
                "key `listeners.mtls.addr`: invalid socket address syntax",
            ),
            (
                "CERTBOUND_LISTENERS__MTLS__ADDR__PORT",
                "1",
                "`listeners.mtls.addr` is a string, not a table, so it has no key `port`",
            ),
        ] {
            match load(&dev, &[(var, value)]) {
                Err(ConfigError::Env { var: v, message: m }) => {
                    assert_eq!(v, var);
                    assert!(m.starts_with(message), "{var}: {m}");
                }
                other => panic!("{var}: expected an environment error, got {other:?}"),
            }
        }
        // The gateway's variables are not the server's.
        let c = load(&dev, &[("CERTBOUND_GATEWAY__LISTENER__ADDR", "nope")]);
        assert!(c.is_ok(), "{c:?}");
    }

    #[test]
    fn listener_tables_are_named_after_their_mode() {
        let base = "[storage]\nurl = \"sqlite://x\"\n";
        for (listener, key, message) in [
            (
                "[listeners.mtls]\naddr = \"127.0.0.1:1\"\nmode = \"proxy\"",
                "listeners.mtls.mode",
                "the table name sets the mode (mtls); remove this key",
            ),
            (
                "[listeners.public]\naddr = \"127.0.0.1:1\"\n[listeners.public.limits]\nidle_timeout_secs = 5",
                "listeners.public.limits",
                "limits apply to every listener: set them in [listeners.limits]",
            ),
            (
                "[listeners.proxy]\naddr = \"127.0.0.1:1\"\ntrusted_proxies = [\"10.0.0.1\"]\ncertificate_header = \"nginx\"",
                "listeners.proxy.url",
                "required: the proxy's public https:// URL (only the proxy knows the name clients use)",
            ),
            (
                "[listeners.proxy]\naddr = \"127.0.0.1:1\"\nurl = \"https://x\"\ntrusted_proxies = []\ncertificate_header = \"nginx\"",
                "listeners.proxy.trusted_proxies",
                "proxy mode needs the proxy's address, e.g. [\"127.0.0.1\"]",
            ),
        ] {
            match load(&format!("{base}{listener}\n"), &[]) {
                Err(ConfigError::Key {
                    key: k, message: m, ..
                }) => assert_eq!((k.as_str(), m.as_str()), (key, message), "{listener}"),
                other => panic!("{listener}: expected a key error, got {other:?}"),
            }
        }
        let text = format!(
            "{base}[listeners.proxy]\naddr = \"127.0.0.1:1\"\nurl = \"https://x\"\ntrusted_proxies = [\"10.0.0.1\"]\ncertificate_header = \"nginx\"\n[listeners.limits]\nidle_timeout_secs = 7\n"
        );
        let c = load(&text, &[]).unwrap_or_else(|e| panic!("{e}"));
        let proxy = c
            .listeners
            .proxy
            .unwrap_or_else(|| panic!("no proxy listener"));
        assert_eq!(proxy.mode, ListenerKind::Proxy);
        assert_eq!(proxy.limits.idle_timeout_secs, 7, "the shared limits apply");
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
