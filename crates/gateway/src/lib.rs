//! `certbound gateway`: a reverse proxy in front of resource servers that
//! terminates mTLS (or trusts a TLS-terminating proxy), verifies each
//! access token and its certificate binding with `certbound-guard`, checks
//! per-route scopes and audience, and forwards to the upstream with identity
//! headers. `/certbound/check` answers the same question for nginx
//! `auth_request` and Envoy `ext_authz` (HTTP mode). It serves before its
//! authorization server answers (503 until then, retried with backoff), and
//! `/readyz` says whether it has.

mod check;
pub mod config;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod proxy;
mod ready;
mod routes;
mod run;
mod service;
mod upstream;

pub use config::{GatewayConfig, GatewayConfigError};
pub use run::{RunningGateway, start, start_with_clock};

/// Identity headers the gateway sets for upstreams (and strips from callers).
pub mod headers {
    /// The client the token was issued to.
    pub const CLIENT_ID: &str = "x-certbound-client-id";
    /// The token's `sub`.
    pub const SUBJECT: &str = "x-certbound-subject";
    /// Granted scopes, space-separated.
    pub const SCOPE: &str = "x-certbound-scope";
    /// `x5t#S256` of the bound client certificate.
    pub const CERT_THUMBPRINT: &str = "x-certbound-cert-thumbprint";
    /// With `forward_client_cert`: whether the forwarded `Client-Cert`'s chain
    /// validated against the gateway's client-CA bundle: `valid`, `invalid`
    /// (self-signed, unknown CA, expired, wrong key usage) or `unchecked`
    /// (no bundle configured).
    pub const CERT_CHAIN: &str = "x-certbound-cert-chain";
    /// Prefix of every header the gateway owns.
    pub const PREFIX: &str = "x-certbound-";
}

/// Path of the check endpoint (nginx `auth_request`, Envoy `ext_authz`).
pub const CHECK_PATH: &str = "/certbound/check";

/// Path of the readiness endpoint: 200 once tokens can be verified. No
/// route may be configured for exactly this path.
pub const READY_PATH: &str = "/readyz";
