//! RFC 8414 authorization-server metadata with the RFC 8705 §5 additions.

use std::collections::BTreeMap;

use serde::Serialize;

/// The document served at `/.well-known/oauth-authorization-server`.
#[derive(Debug, Clone, Serialize)]
pub struct AuthorizationServerMetadata {
    /// Issuer identifier.
    pub issuer: String,
    /// Token endpoint.
    pub token_endpoint: String,
    /// JWKS.
    pub jwks_uri: String,
    /// RFC 7662 introspection endpoint.
    pub introspection_endpoint: String,
    /// RFC 7009 revocation endpoint.
    pub revocation_endpoint: String,
    /// certbound extension: revoked JWTs' `jti`s for local verifiers
    /// (authenticated; clients registered with `may_introspect`).
    pub certbound_revocation_list_endpoint: String,
    /// Supported grant types.
    pub grant_types_supported: Vec<&'static str>,
    /// Supported client authentication methods at the token endpoint.
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    /// Same, for introspection.
    pub introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    /// Same, for revocation.
    pub revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    /// Response types (none yet: no authorization endpoint).
    pub response_types_supported: Vec<&'static str>,
    /// RFC 8705 §3.3: this server issues certificate-bound access tokens.
    pub tls_client_certificate_bound_access_tokens: bool,
    /// RFC 8705 §5: mTLS endpoints when they differ from the ones above.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtls_endpoint_aliases: Option<BTreeMap<&'static str, String>>,
    /// Scopes some client may request.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
}
