//! RFC 8414 authorization-server metadata with the RFC 8705 §5 additions:
//! the one type the server writes and every client, guard and gateway reads.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The document served at `/.well-known/oauth-authorization-server`.
///
/// Reading is lenient where RFC 8414 is (only `issuer` and `token_endpoint`
/// are required, unknown members are ignored) so that any RFC 8705 server
/// can be discovered, not only certbound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationServerMetadata {
    /// Issuer identifier.
    pub issuer: String,
    /// Token endpoint (may not request client certificates).
    pub token_endpoint: String,
    /// RFC 6749 §3.1 authorization endpoint, on the listener browsers use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    /// JWKS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// RFC 7662 introspection endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    /// RFC 7009 revocation endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    /// certbound extension: revoked JWTs' `jti`s for local verifiers
    /// (authenticated; clients registered with `may_introspect`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certbound_revocation_list_endpoint: Option<String>,
    /// Supported grant types.
    #[serde(default)]
    pub grant_types_supported: Vec<String>,
    /// Supported client authentication methods at the token endpoint.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// Same, for introspection.
    #[serde(default)]
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    /// Same, for revocation.
    #[serde(default)]
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// Response types (`code` once the authorization endpoint is served).
    #[serde(default)]
    pub response_types_supported: Vec<String>,
    /// Response modes (`query`, OAuth 2.0 Form Post `form_post`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_modes_supported: Vec<String>,
    /// RFC 7636 PKCE methods (`S256` only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub code_challenge_methods_supported: Vec<String>,
    /// RFC 9207: authorization responses carry `iss`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub authorization_response_iss_parameter_supported: bool,
    /// RFC 8705 §3.3: this server issues certificate-bound access tokens.
    #[serde(default)]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// RFC 8705 §5: mTLS endpoints when they differ from the ones above,
    /// keyed by the metadata member they replace (e.g. `token_endpoint`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mtls_endpoint_aliases: BTreeMap<String, String>,
    /// Scopes some client may request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
}

/// An endpoint that may have an RFC 8705 §5 mTLS alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `token_endpoint`.
    Token,
    /// `introspection_endpoint`.
    Introspection,
    /// `revocation_endpoint`.
    Revocation,
    /// `certbound_revocation_list_endpoint`.
    RevocationList,
}

impl Endpoint {
    /// The metadata member (and `mtls_endpoint_aliases` key) naming it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token_endpoint",
            Self::Introspection => "introspection_endpoint",
            Self::Revocation => "revocation_endpoint",
            Self::RevocationList => "certbound_revocation_list_endpoint",
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AuthorizationServerMetadata {
    /// The endpoint without its mTLS alias; `None` if the document has none.
    pub fn endpoint(&self, which: Endpoint) -> Option<&str> {
        match which {
            Endpoint::Token => Some(self.token_endpoint.as_str()),
            Endpoint::Introspection => self.introspection_endpoint.as_deref(),
            Endpoint::Revocation => self.revocation_endpoint.as_deref(),
            Endpoint::RevocationList => self.certbound_revocation_list_endpoint.as_deref(),
        }
    }

    /// The endpoint an mTLS client uses: the `mtls_endpoint_aliases` entry
    /// if present, else the plain one (RFC 8705 §5). Empty values count as
    /// absent, since a client cannot send a request to them.
    pub fn mtls_endpoint(&self, which: Endpoint) -> Option<&str> {
        self.mtls_endpoint_aliases
            .get(which.as_str())
            .map(String::as_str)
            .or_else(|| self.endpoint(which))
            .filter(|url| !url.is_empty())
    }
}

/// RFC 8414 §3: the metadata URL for an issuer (path component after the well-known segment).
pub fn metadata_url(issuer: &str) -> String {
    let issuer = issuer.trim_end_matches('/');
    match issuer.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('/') {
            Some((host, path)) => {
                format!("{scheme}://{host}/.well-known/oauth-authorization-server/{path}")
            }
            None => format!("{issuer}/.well-known/oauth-authorization-server"),
        },
        None => format!("{issuer}/.well-known/oauth-authorization-server"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certbound_like() -> AuthorizationServerMetadata {
        AuthorizationServerMetadata {
            issuer: "https://as.example".into(),
            token_endpoint: "https://as.example/token".into(),
            authorization_endpoint: Some("https://as.example/authorize".into()),
            jwks_uri: Some("https://as.example/jwks".into()),
            introspection_endpoint: Some("https://as.example/introspect".into()),
            revocation_endpoint: Some("https://as.example/revoke".into()),
            certbound_revocation_list_endpoint: Some("https://as.example/revoked".into()),
            grant_types_supported: vec!["client_credentials".into()],
            token_endpoint_auth_methods_supported: vec!["tls_client_auth".into()],
            introspection_endpoint_auth_methods_supported: vec!["tls_client_auth".into()],
            revocation_endpoint_auth_methods_supported: vec!["tls_client_auth".into()],
            response_types_supported: vec!["code".into()],
            response_modes_supported: vec!["query".into(), "form_post".into()],
            code_challenge_methods_supported: vec!["S256".into()],
            authorization_response_iss_parameter_supported: true,
            tls_client_certificate_bound_access_tokens: true,
            mtls_endpoint_aliases: BTreeMap::from([(
                "token_endpoint".to_owned(),
                "https://mtls.as.example/token".to_owned(),
            )]),
            scopes_supported: vec!["read".into()],
        }
    }

    fn read(json: &str) -> AuthorizationServerMetadata {
        match serde_json::from_str(json) {
            Ok(m) => m,
            Err(e) => panic!("{json}: {e}"),
        }
    }

    #[test]
    fn what_the_server_writes_reads_back_the_same() {
        for written in [
            certbound_like(),
            AuthorizationServerMetadata {
                mtls_endpoint_aliases: BTreeMap::new(),
                scopes_supported: vec![],
                jwks_uri: None,
                ..certbound_like()
            },
        ] {
            let json = match serde_json::to_string(&written) {
                Ok(json) => json,
                Err(e) => panic!("serialise: {e}"),
            };
            assert_eq!(read(&json), written, "{json}");
        }
    }

    #[test]
    fn empty_optional_members_are_left_out_and_required_lists_are_kept() {
        let written = AuthorizationServerMetadata {
            mtls_endpoint_aliases: BTreeMap::new(),
            scopes_supported: vec![],
            response_types_supported: vec![],
            ..certbound_like()
        };
        let value = match serde_json::to_value(&written) {
            Ok(v) => v,
            Err(e) => panic!("serialise: {e}"),
        };
        assert!(value.get("mtls_endpoint_aliases").is_none(), "{value}");
        assert!(value.get("scopes_supported").is_none(), "{value}");
        // RFC 8414 §2 makes response_types_supported REQUIRED, even when empty.
        assert_eq!(value["response_types_supported"], serde_json::json!([]));
    }

    #[test]
    fn another_servers_document_with_extra_members_is_read() {
        let m = read(
            r#"{
                "issuer": "https://idp.example",
                "token_endpoint": "https://idp.example/oauth/token",
                "authorization_endpoint": "https://idp.example/authorize",
                "code_challenge_methods_supported": ["S256"],
                "mtls_endpoint_aliases": {
                    "token_endpoint": "https://mtls.idp.example/oauth/token",
                    "userinfo_endpoint": "https://mtls.idp.example/userinfo"
                },
                "x-vendor": {"nested": [1, 2, 3]}
            }"#,
        );
        assert_eq!(m.issuer, "https://idp.example");
        assert_eq!(m.jwks_uri, None);
        assert!(!m.tls_client_certificate_bound_access_tokens);
        assert_eq!(
            m.mtls_endpoint(Endpoint::Token),
            Some("https://mtls.idp.example/oauth/token")
        );
        assert_eq!(m.mtls_endpoint(Endpoint::Introspection), None);
        assert!(
            serde_json::from_str::<AuthorizationServerMetadata>(r#"{"issuer": "x"}"#).is_err(),
            "token_endpoint is required"
        );
    }

    #[test]
    fn mtls_endpoint_prefers_the_alias_and_skips_empty_values() {
        let mut m = certbound_like();
        assert_eq!(
            m.mtls_endpoint(Endpoint::Token),
            Some("https://mtls.as.example/token")
        );
        assert_eq!(
            m.mtls_endpoint(Endpoint::Introspection),
            Some("https://as.example/introspect")
        );
        m.revocation_endpoint = Some(String::new());
        assert_eq!(m.mtls_endpoint(Endpoint::Revocation), None);
        assert_eq!(
            Endpoint::RevocationList.to_string(),
            "certbound_revocation_list_endpoint"
        );
    }

    #[test]
    fn rfc8414_metadata_urls() {
        assert_eq!(
            metadata_url("https://as.example"),
            "https://as.example/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            metadata_url("https://as.example/tenant"),
            "https://as.example/.well-known/oauth-authorization-server/tenant"
        );
    }
}
