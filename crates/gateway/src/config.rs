//! `gateway.toml`: listener, TLS, the authorization server to trust, policy,
//! upstream timeouts and routes, overridable by `CERTBOUND_GATEWAY__*`
//! environment variables (`__` separates levels:
//! `CERTBOUND_GATEWAY__LISTENER__ADDR`). Errors name the key, or the
//! variable that set it.

use std::path::{Path, PathBuf};

use certbound_tls::{ConfigSource, ListenerKind, ListenerSettings, TlsError, TlsFiles};
use serde::Deserialize;

/// Why a gateway configuration cannot be used (shared with the server's file).
pub use certbound_tls::ConfigError as GatewayConfigError;

/// Prefix of the environment variables that override `gateway.toml`; unlike
/// the server's `CERTBOUND_`, so one host can run both.
pub const ENV_PREFIX: &str = "CERTBOUND_GATEWAY__";

/// The top-level keys of the file; `CERTBOUND_GATEWAY__<KEY>…` overrides only these.
const TOP_LEVEL_KEYS: [&str; 7] = [
    "listener",
    "tls",
    "authorization_server",
    "policy",
    "upstream",
    "routes",
    "shutdown",
];

/// The whole gateway configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Where callers connect: `mode` is `mtls` or `proxy`.
    pub listener: ListenerSettings,
    /// Server certificate and client-CA bundle.
    #[serde(default)]
    pub tls: TlsFiles,
    /// The authorization server whose tokens are accepted.
    pub authorization_server: AuthorizationServerConfig,
    /// Token policy.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// Upstream connection settings.
    #[serde(default)]
    pub upstream: UpstreamConfig,
    /// Routes, first match wins (longest path prefix first is recommended).
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// What happens on SIGTERM before the listener stops accepting.
    #[serde(default)]
    pub shutdown: certbound_tls::ShutdownSettings,
}

/// `[authorization_server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationServerConfig {
    /// Issuer URL; metadata is discovered from it.
    pub issuer: String,
    /// CA bundle trusted for the AS's TLS certificate.
    pub ca: Option<PathBuf>,
    /// Enables introspection of opaque tokens with this client id.
    pub introspection_client_id: Option<String>,
    /// The gateway's own certificate for introspection (mTLS client auth).
    pub cert: Option<PathBuf>,
    /// Its key.
    pub key: Option<PathBuf>,
    /// Seconds an active introspection answer is reused.
    #[serde(default = "default_positive_ttl")]
    pub introspection_cache_seconds: u64,
    /// `jwt` (verify JWTs locally against the JWKS; opaque tokens are
    /// introspected) or `introspection` (introspect every token, so a
    /// revocation takes effect within the cache time).
    #[serde(default)]
    pub validation: Validation,
    /// Seconds between polls of the AS's revocation list (0 = off); by
    /// default 15 in `jwt` mode when `introspection_client_id` is set, else off.
    #[serde(default)]
    pub revocation_poll_seconds: Option<u64>,
    /// Refuse tokens (503) once the revocation list has not been refreshed
    /// for this long (0 = keep serving with the last list).
    #[serde(default = "default_max_stale")]
    pub revocation_max_stale_seconds: u64,
}

fn default_max_stale() -> u64 {
    300
}

/// `revocation_poll_seconds` when the gateway has an identity and verifies JWTs locally.
pub const DEFAULT_REVOCATION_POLL_SECONDS: u64 = 15;

impl AuthorizationServerConfig {
    /// The revocation poll interval in force, if polling is on.
    pub fn revocation_poll(&self) -> Option<u64> {
        let default = (self.introspection_client_id.is_some()
            && self.validation == Validation::Jwt)
            .then_some(DEFAULT_REVOCATION_POLL_SECONDS);
        self.revocation_poll_seconds.or(default).filter(|s| *s > 0)
    }
}

/// How access tokens are validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Validation {
    /// Local JWT verification (fast, revocation visible at expiry).
    #[default]
    Jwt,
    /// RFC 7662 introspection of every token.
    Introspection,
}

fn default_positive_ttl() -> u64 {
    30
}

/// `[policy]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Refuse unbound tokens (no `cnf`): on by default, since accepting
    /// them makes the gateway a bearer-token gateway.
    pub require_bound_tokens: bool,
    /// Required `aud` for routes without their own; when absent the
    /// gateway's own URL (`listener.url`) is required.
    pub audience: Option<String>,
    /// Clock leeway for `exp`/`nbf`.
    pub leeway_seconds: u64,
    /// An unknown `kid` refetches the JWKS at most this often (seconds).
    pub jwks_refetch_seconds: u64,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            require_bound_tokens: true,
            audience: None,
            leeway_seconds: 5,
            jwks_refetch_seconds: 5,
        }
    }
}

/// `[upstream]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    /// Connect timeout, milliseconds.
    pub connect_timeout_ms: u64,
    /// Whole-request timeout (until response headers), milliseconds.
    pub request_timeout_ms: u64,
    /// Send the client certificate to upstreams as RFC 9440 `Client-Cert`.
    pub forward_client_cert: bool,
    /// CA bundle for `https://` upstreams (default: none, so https upstreams need it).
    pub ca: Option<PathBuf>,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            connect_timeout_ms: 2_000,
            request_timeout_ms: 30_000,
            forward_client_cert: false,
            ca: None,
        }
    }
}

/// `[[routes]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Match only this Host (without port); any host when absent.
    #[serde(default)]
    pub host: Option<String>,
    /// Match paths starting with this prefix (segment-wise: `/api` matches `/api/x`, not `/apix`).
    pub path_prefix: String,
    /// Upstream base URL (`http://` or `https://`).
    pub upstream: String,
    /// Scopes a token must carry.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Required `aud` (overrides `policy.audience`).
    #[serde(default)]
    pub audience: Option<String>,
}

impl GatewayConfig {
    /// Reads a file, overrides it from the `CERTBOUND_GATEWAY__*` environment
    /// and validates it; relative paths resolve against its directory.
    pub fn load(path: &Path) -> Result<Self, GatewayConfigError> {
        let text = ConfigSource::read(path)?;
        Self::from_toml_with_env(&text, path, std::env::vars())
    }

    /// Parses and validates TOML text as if read from `path`, without overrides.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, GatewayConfigError> {
        Self::from_toml_with_env(text, path, std::iter::empty())
    }

    /// As [`GatewayConfig::load`], from text and an explicit environment.
    pub fn from_toml_with_env(
        text: &str,
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, GatewayConfigError> {
        let mut source = ConfigSource::parse(text, path, ENV_PREFIX, &TOP_LEVEL_KEYS, env)?;
        let table = std::mem::take(&mut source.table);
        let key_err = |key: String, message: String| source.key_error(key, message);
        // Without overrides the text itself is read, so errors keep its line numbers.
        let parsed = if !source.has_overrides() {
            let de = toml::Deserializer::parse(text)
                .map_err(|e| key_err(String::new(), e.to_string()))?;
            serde_path_to_error::deserialize(de)
        } else {
            serde_path_to_error::deserialize(toml::Value::Table(table))
        };
        let mut c: GatewayConfig =
            parsed.map_err(|e| key_err(e.path().to_string(), e.inner().to_string()))?;
        if c.listener.mode == ListenerKind::Public {
            return Err(key_err(
                "listener.mode".into(),
                "the gateway needs each caller's certificate: use \"mtls\" or \"proxy\"".into(),
            ));
        }
        c.shutdown
            .validate()
            .map_err(|(key, message)| key_err(format!("shutdown.{key}"), message))?;
        if c.listener.client_address_header.is_some() {
            return Err(key_err(
                "listener.client_address_header".into(),
                "the gateway has no per-caller rate limits to count with it (it forwards X-Forwarded-For upstream as it is); remove it".into(),
            ));
        }
        c.listener
            .validate("listener", &c.tls)
            .map_err(|e| match e {
                TlsError::Setting { key, message } => key_err(key, message),
                other => key_err("listener".into(), other.to_string()),
            })?;
        let some_route_lacks_audience =
            c.routes.is_empty() || c.routes.iter().any(|r| r.audience.is_none());
        if c.listener.mode == ListenerKind::Proxy
            && c.listener.url.is_none()
            && c.policy.audience.is_none()
            && some_route_lacks_audience
        {
            return Err(key_err(
                "listener.url".into(),
                "proxy mode needs the proxy's public https:// URL (the token audience the gateway checks), or set policy.audience".into(),
            ));
        }
        if !c.authorization_server.issuer.starts_with("https://") {
            return Err(key_err(
                "authorization_server.issuer".into(),
                "must be an https:// URL".into(),
            ));
        }
        let a = &c.authorization_server;
        if a.introspection_client_id.is_some() && (a.cert.is_none() || a.key.is_none()) {
            return Err(key_err(
                "authorization_server".into(),
                "introspection_client_id needs cert and key: the gateway authenticates with its own certificate".into(),
            ));
        }
        if a.validation == Validation::Introspection && a.introspection_client_id.is_none() {
            return Err(key_err(
                "authorization_server.validation".into(),
                "introspection needs introspection_client_id, cert and key".into(),
            ));
        }
        if let Some(poll) = a.revocation_poll_seconds.filter(|s| *s > 0) {
            if a.introspection_client_id.is_none() {
                return Err(key_err(
                    "authorization_server.revocation_poll_seconds".into(),
                    "polling the revocation list needs introspection_client_id, cert and key: the gateway reads it as that client, registered with --may-introspect (or set 0 to turn polling off)".into(),
                ));
            }
            if poll > 3600 {
                return Err(key_err(
                    "authorization_server.revocation_poll_seconds".into(),
                    "must be at most 3600 (0 turns polling off)".into(),
                ));
            }
        }
        if let Some(poll) = a.revocation_poll()
            && a.revocation_max_stale_seconds != 0
            && a.revocation_max_stale_seconds < 2 * poll
        {
            return Err(key_err(
                "authorization_server.revocation_max_stale_seconds".into(),
                format!(
                    "must be at least twice revocation_poll_seconds ({poll}), or 0 to never refuse tokens for a stale list"
                ),
            ));
        }
        for (i, r) in c.routes.iter().enumerate() {
            if !r.path_prefix.starts_with('/') {
                return Err(key_err(
                    format!("routes[{i}].path_prefix"),
                    "must start with /".into(),
                ));
            }
            // The gateway answers exactly this path itself, before routing.
            let covers_readyz = crate::routes::normalize_path(&r.path_prefix).is_ok_and(|p| {
                p.trim_end_matches('/')
                    .eq_ignore_ascii_case(crate::READY_PATH)
            });
            if covers_readyz {
                return Err(key_err(
                    format!("routes[{i}].path_prefix"),
                    format!(
                        "{} is the gateway's readiness endpoint; route the upstream's under another prefix",
                        crate::READY_PATH
                    ),
                ));
            }
            if !(r.upstream.starts_with("http://") || r.upstream.starts_with("https://")) {
                return Err(key_err(
                    format!("routes[{i}].upstream"),
                    "must be an http:// or https:// URL".into(),
                ));
            }
            let uri = r
                .upstream
                .parse::<http::Uri>()
                .map_err(|e| key_err(format!("routes[{i}].upstream"), e.to_string()))?;
            // It would travel in the Host header to the upstream.
            if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
                return Err(key_err(
                    format!("routes[{i}].upstream"),
                    "must not contain user information (user:password@)".into(),
                ));
            }
        }
        let base = path.parent().unwrap_or(Path::new("."));
        c.tls.resolve_paths(base);
        for p in [
            &mut c.authorization_server.ca,
            &mut c.authorization_server.cert,
            &mut c.authorization_server.key,
            &mut c.upstream.ca,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(c)
    }
}

impl GatewayConfig {
    /// The `aud` checked for routes without their own audience: `policy.audience`,
    /// else `listener.url`, else (mtls mode) `https://localhost:PORT` with the
    /// port actually bound.
    pub fn default_audience(&self, bound_port: u16) -> String {
        self.policy
            .audience
            .clone()
            .or_else(|| self.listener.url.clone())
            .unwrap_or_else(|| format!("https://localhost:{bound_port}"))
    }
}

#[cfg(test)]
mod tests;
