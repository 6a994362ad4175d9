//! `gateway.toml`: listener, TLS, the authorization server to trust, policy,
//! upstream timeouts and routes. Errors name the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

/// Why a gateway configuration cannot be used.
#[derive(Debug, Error)]
pub enum GatewayConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A key is wrong, unknown or missing.
    #[error("{}: key `{key}`: {message}", .path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// Dotted key.
        key: String,
        /// What to change.
        message: String,
    },
}

/// The whole gateway configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Where callers connect.
    pub listener: ListenerConfig,
    /// Server certificate and client-CA bundle.
    #[serde(default)]
    pub tls: TlsConfig,
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
}

/// `[listener]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// `mtls` (terminate mTLS here) or `proxy` (plain HTTP behind nginx/Envoy).
    pub mode: ListenerKind,
    /// Address to bind.
    pub addr: SocketAddr,
    /// The gateway's public `https://` URL, as callers reach it: the `aud`
    /// checked when neither the route nor `policy.audience` names one.
    /// Default in `mtls` mode: `https://localhost:PORT` (the bound port);
    /// required in `proxy` mode unless every route has an audience.
    #[serde(default)]
    pub url: Option<String>,
    /// For `proxy`: peers whose certificate headers are honoured.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// For `proxy`: the one header they send the certificate in: `rfc9440`,
    /// `nginx` or `envoy`. Every other certificate header is stripped.
    #[serde(default)]
    pub certificate_header: Option<String>,
    /// `[listener.limits]`: timeouts and connection limits.
    #[serde(default)]
    pub limits: certbound_tls::ConnectionLimits,
}

/// Listener modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenerKind {
    /// HTTPS requesting client certificates.
    Mtls,
    /// Plain HTTP behind a TLS-terminating proxy.
    Proxy,
}

/// `[tls]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Server certificate chain (mtls mode).
    pub cert: Option<PathBuf>,
    /// Server key (mtls mode).
    pub key: Option<PathBuf>,
    /// CAs whose client certificates are chain-validated (informational for the gateway).
    pub client_ca: Option<PathBuf>,
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
    /// Reads and validates a file; relative paths resolve against its directory.
    pub fn load(path: &Path) -> Result<Self, GatewayConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| GatewayConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// Parses and validates TOML text as if read from `path`.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, GatewayConfigError> {
        let key_err = |key: String, message: String| GatewayConfigError::Key {
            path: path.to_owned(),
            key,
            message,
        };
        let de =
            toml::Deserializer::parse(text).map_err(|e| key_err(String::new(), e.to_string()))?;
        let mut c: GatewayConfig = serde_path_to_error::deserialize(de)
            .map_err(|e| key_err(e.path().to_string(), e.inner().to_string()))?;
        if c.listener.mode == ListenerKind::Mtls && (c.tls.cert.is_none() || c.tls.key.is_none()) {
            return Err(key_err(
                "tls".into(),
                "mtls listener needs tls.cert and tls.key".into(),
            ));
        }
        if c.listener.mode == ListenerKind::Proxy && c.listener.trusted_proxies.is_empty() {
            return Err(key_err(
                "listener.trusted_proxies".into(),
                "proxy mode needs the proxy's address, e.g. [\"127.0.0.1\"]".into(),
            ));
        }
        if c.listener.mode == ListenerKind::Proxy {
            let ok = c
                .listener
                .certificate_header
                .as_deref()
                .and_then(certbound_tls::CertificateHeader::parse);
            if ok.is_none() {
                return Err(key_err(
                    "listener.certificate_header".into(),
                    format!(
                        "proxy mode needs one of {}",
                        certbound_tls::CertificateHeader::NAMES.join(", ")
                    ),
                ));
            }
        }
        if let Some(url) = &c.listener.url {
            check_public_url(url).map_err(|m| key_err("listener.url".into(), m))?;
        }
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
        certbound_tls::TrustedProxies::parse(&c.listener.trusted_proxies)
            .map_err(|e| key_err("listener.trusted_proxies".into(), e.to_string()))?;
        c.listener
            .limits
            .validate()
            .map_err(|(key, m)| key_err(format!("listener.limits.{key}"), m))?;
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
        for p in [
            &mut c.tls.cert,
            &mut c.tls.key,
            &mut c.tls.client_ca,
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

/// An `https://host[:port][/path]` URL without query, fragment or trailing
/// slash: it is compared byte for byte with the tokens' `aud`.
fn check_public_url(url: &str) -> Result<(), String> {
    let well_formed = url
        .strip_prefix("https://")
        .is_some_and(|rest| !rest.is_empty() && !rest.contains(['?', '#', ' ']))
        && !url.ends_with('/')
        && url.parse::<http::Uri>().is_ok();
    if well_formed {
        Ok(())
    } else {
        Err(format!(
            "'{url}' must be https://host[:port][/path] without query, fragment or trailing slash"
        ))
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
