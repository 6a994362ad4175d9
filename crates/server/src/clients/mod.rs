//! Registered clients: the metadata we store (RFC 7591 names), its
//! validation at registration, and the parsed form authentication uses.

pub mod auth;
mod cache;
mod rules;
mod secret;

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use certbound_core::{
    AuthMethod, CertificateIdentity, DistinguishedName, RedirectUri, Thumbprint,
    TlsClientAuthMatcher,
};
use certbound_store::StoredClient;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use cache::ClientCache;
pub use rules::{ClientParameter, ClientRule, InvalidClient};
pub use secret::{generate_secret, hash_secret, secret_matches};

use crate::ServerError;

/// Access-token format for a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TokenFormat {
    /// RFC 9068 JWT, verifiable offline.
    #[default]
    Jwt,
    /// Random reference token, validated by introspection.
    Opaque,
}

/// Client metadata as stored, using RFC 7591 / RFC 8705 parameter names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientMetadata {
    /// `token_endpoint_auth_method`.
    pub token_endpoint_auth_method: String,
    /// RFC 8705 `tls_client_auth_subject_dn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    /// RFC 8705 `tls_client_auth_san_dns`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_dns: Option<String>,
    /// RFC 8705 `tls_client_auth_san_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_uri: Option<String>,
    /// RFC 8705 `tls_client_auth_san_ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_ip: Option<String>,
    /// RFC 8705 `tls_client_auth_san_email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_email: Option<String>,
    /// JWK Set whose `x5c` certificates a `self_signed_tls_client_auth` client may present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// Scopes the client may request, space-separated.
    #[serde(default)]
    pub scope: String,
    /// `aud` of its tokens; the server default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// JWT or opaque access tokens.
    #[serde(default)]
    pub access_token_format: TokenFormat,
    /// RFC 8705 §3.4: bind tokens when a certificate is presented (default true).
    #[serde(default = "yes")]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// Refuse token requests without a certificate (`invalid_request`).
    #[serde(default)]
    pub require_certificate_bound_access_tokens: bool,
    /// Grant types the client may use.
    #[serde(default = "default_grants")]
    pub grant_types: Vec<String>,
    /// certbound extension: may introspect any token and read the revocation
    /// list (gateways and resource servers); others introspect only tokens
    /// issued to them or naming them in `aud`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub may_introspect: bool,
    /// Where the authorization response may go, matched exactly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<String>,
    /// The name the consent page shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// The logo the consent page shows (`https` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// certbound extension: issue a refresh token with every code redemption,
    /// even when the user did not grant `offline_access`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub always_issue_refresh_token: bool,
}

/// Grant types a client may register.
pub const GRANT_TYPES: [&str; 3] = ["authorization_code", "refresh_token", "client_credentials"];

/// Longest `client_name` accepted.
const MAX_CLIENT_NAME: usize = 200;
/// Longest redirect or logo URI accepted.
const MAX_URI: usize = 2000;

fn yes() -> bool {
    true
}

fn default_grants() -> Vec<String> {
    vec!["client_credentials".into()]
}

impl ClientMetadata {
    /// Metadata for `method` with defaults everywhere else.
    pub fn new(method: AuthMethod) -> Self {
        Self {
            token_endpoint_auth_method: method.as_str().into(),
            tls_client_auth_subject_dn: None,
            tls_client_auth_san_dns: None,
            tls_client_auth_san_uri: None,
            tls_client_auth_san_ip: None,
            tls_client_auth_san_email: None,
            jwks: None,
            scope: String::new(),
            audience: None,
            access_token_format: TokenFormat::Jwt,
            tls_client_certificate_bound_access_tokens: true,
            require_certificate_bound_access_tokens: false,
            grant_types: default_grants(),
            may_introspect: false,
            redirect_uris: Vec::new(),
            client_name: None,
            logo_uri: None,
            always_issue_refresh_token: false,
        }
    }

    /// The metadata as a JWK Set holding `certificates` in `x5c`.
    pub fn jwks_from_certificates(ders: &[Vec<u8>]) -> Value {
        let keys: Vec<Value> = ders
            .iter()
            .map(|der| serde_json::json!({ "x5c": [STANDARD.encode(der)] }))
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

/// A client ready for authentication and token issuance.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    /// `client_id`.
    pub client_id: String,
    /// Its registered authentication method.
    pub method: AuthMethod,
    /// For `tls_client_auth`.
    pub matcher: Option<TlsClientAuthMatcher>,
    /// For `self_signed_tls_client_auth`: thumbprints of the registered certificates.
    pub self_signed_thumbprints: Vec<Thumbprint>,
    /// For secret methods.
    pub secret_hash: Option<String>,
    /// Allowed scopes.
    pub scopes: Vec<String>,
    /// Token audience override.
    pub audience: Option<String>,
    /// Token format.
    pub format: TokenFormat,
    /// Bind tokens to a presented certificate.
    pub bind_tokens: bool,
    /// Refuse requests without a certificate.
    pub require_binding: bool,
    /// Allowed grant types.
    pub grant_types: Vec<String>,
    /// May introspect any token and read the revocation list.
    pub may_introspect: bool,
    /// Registered redirect URIs, exact strings.
    pub redirect_uris: Vec<RedirectUri>,
    /// The metadata as stored (for `clients show`).
    pub metadata: ClientMetadata,
}

impl RegisteredClient {
    /// Parses and validates metadata; the error names the bad parameter and the rule.
    pub fn from_metadata(
        client_id: &str,
        metadata: ClientMetadata,
        secret_hash: Option<String>,
    ) -> Result<Self, InvalidClient> {
        use ClientParameter as P;
        validate_client_id(client_id)?;
        let method: AuthMethod = metadata.token_endpoint_auth_method.parse().map_err(|_| {
            InvalidClient::new(
                P::TokenEndpointAuthMethod,
                ClientRule::UnsupportedAuthMethod {
                    given: metadata.token_endpoint_auth_method.clone(),
                },
            )
        })?;
        let m = &metadata;
        let mut matchers: Vec<(ClientParameter, TlsClientAuthMatcher)> = Vec::new();
        if let Some(dn) = &m.tls_client_auth_subject_dn {
            let parsed = DistinguishedName::parse(dn).map_err(|e| {
                InvalidClient::new(
                    P::SubjectDn,
                    ClientRule::DistinguishedName {
                        reason: e.to_string(),
                    },
                )
            })?;
            if parsed.is_empty() {
                return Err(InvalidClient::new(P::SubjectDn, ClientRule::Empty));
            }
            matchers.push((P::SubjectDn, TlsClientAuthMatcher::SubjectDn(parsed)));
        }
        if let Some(d) = &m.tls_client_auth_san_dns {
            let d = non_blank(P::SanDns, d)?;
            matchers.push((P::SanDns, TlsClientAuthMatcher::SanDns(d)));
        }
        if let Some(u) = &m.tls_client_auth_san_uri {
            let u = non_blank(P::SanUri, u)?;
            matchers.push((P::SanUri, TlsClientAuthMatcher::SanUri(u)));
        }
        if let Some(ip) = &m.tls_client_auth_san_ip {
            let parsed: IpAddr = ip.trim().parse().map_err(|_| {
                InvalidClient::new(P::SanIp, ClientRule::NotAnIpAddress { given: ip.clone() })
            })?;
            matchers.push((P::SanIp, TlsClientAuthMatcher::SanIp(parsed)));
        }
        if let Some(e) = &m.tls_client_auth_san_email {
            let e = non_blank(P::SanEmail, e)?;
            matchers.push((P::SanEmail, TlsClientAuthMatcher::SanEmail(e)));
        }
        let matcher = match (method, matchers.len()) {
            (AuthMethod::TlsClientAuth, 1) => matchers.pop().map(|(_, matcher)| matcher),
            (AuthMethod::TlsClientAuth, 0) => {
                return Err(InvalidClient::new(
                    P::TokenEndpointAuthMethod,
                    ClientRule::MatcherMissing,
                ));
            }
            (AuthMethod::TlsClientAuth, _) => {
                let given: Vec<ClientParameter> = matchers.iter().map(|(p, _)| *p).collect();
                // The first one is fine on its own; the second is the one too many.
                return Err(InvalidClient::new(
                    given[1],
                    ClientRule::SeveralMatchers { given },
                ));
            }
            (_, 0) => None,
            (other, _) => {
                return Err(InvalidClient::new(
                    matchers[0].0,
                    ClientRule::MatcherWithoutTlsClientAuth { method: other },
                ));
            }
        };
        let self_signed_thumbprints = match (method, &m.jwks) {
            (AuthMethod::SelfSignedTlsClientAuth, Some(jwks)) => x5c_thumbprints(jwks)?,
            (AuthMethod::SelfSignedTlsClientAuth, None) => {
                return Err(InvalidClient::new(P::Jwks, ClientRule::JwksMissing));
            }
            _ => Vec::new(),
        };
        if method.uses_secret() != secret_hash.is_some() {
            let rule = if method.uses_secret() {
                ClientRule::SecretMissing { method }
            } else {
                ClientRule::SecretNotAllowed { method }
            };
            return Err(InvalidClient::new(P::ClientSecret, rule));
        }
        let scopes = parse_scope(&m.scope)?;
        if let Some(grant) = m
            .grant_types
            .iter()
            .find(|g| !GRANT_TYPES.contains(&g.as_str()))
        {
            return Err(InvalidClient::new(
                P::GrantTypes,
                ClientRule::UnsupportedGrantType {
                    given: grant.clone(),
                },
            ));
        }
        let redirect_uris = grant_rules(method, m)?;
        if m.require_certificate_bound_access_tokens
            && !m.tls_client_certificate_bound_access_tokens
        {
            return Err(InvalidClient::new(
                P::RequireCertificateBoundAccessTokens,
                ClientRule::ContradictsUnboundTokens,
            ));
        }
        Ok(Self {
            client_id: client_id.to_owned(),
            method,
            matcher,
            self_signed_thumbprints,
            secret_hash,
            scopes,
            audience: m.audience.clone(),
            format: m.access_token_format,
            bind_tokens: m.tls_client_certificate_bound_access_tokens,
            require_binding: m.require_certificate_bound_access_tokens,
            grant_types: m.grant_types.clone(),
            may_introspect: m.may_introspect,
            redirect_uris,
            metadata,
        })
    }

    /// Parses a stored record; failure means a corrupt database.
    pub fn from_stored(stored: StoredClient) -> Result<Self, ServerError> {
        let corrupt = |reason: String| ServerError::CorruptClient {
            client_id: stored.client_id.clone(),
            reason,
        };
        let mut metadata: ClientMetadata =
            serde_json::from_str(&stored.metadata).map_err(|e| corrupt(e.to_string()))?;
        // Earlier versions registered redirect URIs today's rules refuse
        // (non-ASCII, spaces): the client loads without them, so its other
        // URIs and grants keep working, rather than failing every request.
        metadata.redirect_uris.retain(|given| match RedirectUri::parse(given) {
            Ok(_) => true,
            Err(fault) => {
                tracing::warn!(
                    client_id = %stored.client_id,
                    redirect_uri = %given.escape_default(),
                    %fault,
                    "stored redirect URI no longer accepted; ignored (register the client's redirect URIs again)"
                );
                false
            }
        });
        Self::from_metadata(&stored.client_id, metadata, stored.secret_hash.clone())
            .map_err(|e| corrupt(e.to_string()))
    }

    /// The record to store.
    pub fn to_stored(&self, created_at: i64) -> Result<StoredClient, ServerError> {
        Ok(StoredClient {
            client_id: self.client_id.clone(),
            metadata: serde_json::to_string(&self.metadata).map_err(|source| {
                ServerError::ClientMetadataJson {
                    client_id: self.client_id.clone(),
                    source,
                }
            })?,
            secret_hash: self.secret_hash.clone(),
            created_at,
        })
    }
}

/// The rules of the browser-based grants; returns the parsed redirect URIs.
fn grant_rules(method: AuthMethod, m: &ClientMetadata) -> Result<Vec<RedirectUri>, InvalidClient> {
    use ClientParameter as P;
    let has = |g: &str| m.grant_types.iter().any(|x| x == g);
    if method == AuthMethod::None && has("client_credentials") {
        return Err(InvalidClient::new(
            P::GrantTypes,
            ClientRule::PublicClientCredentials,
        ));
    }
    if method == AuthMethod::None && m.may_introspect {
        return Err(InvalidClient::new(
            P::MayIntrospect,
            ClientRule::PublicMayIntrospect,
        ));
    }
    if has("refresh_token") && !has("authorization_code") {
        return Err(InvalidClient::new(
            P::GrantTypes,
            ClientRule::RefreshWithoutCode,
        ));
    }
    let mut uris = Vec::with_capacity(m.redirect_uris.len());
    for given in &m.redirect_uris {
        if given.len() > MAX_URI {
            return Err(InvalidClient::new(
                P::RedirectUris,
                ClientRule::TooLong { max: MAX_URI },
            ));
        }
        let uri = RedirectUri::parse(given).map_err(|fault| {
            InvalidClient::new(
                P::RedirectUris,
                ClientRule::RedirectUri {
                    given: given.clone(),
                    fault,
                },
            )
        })?;
        if !uris.contains(&uri) {
            uris.push(uri);
        }
    }
    if has("authorization_code") && uris.is_empty() {
        return Err(InvalidClient::new(
            P::RedirectUris,
            ClientRule::RedirectUriMissing,
        ));
    }
    if let Some(name) = &m.client_name {
        if name.trim().is_empty() {
            return Err(InvalidClient::new(P::ClientName, ClientRule::Empty));
        }
        if name.len() > MAX_CLIENT_NAME {
            return Err(InvalidClient::new(
                P::ClientName,
                ClientRule::TooLong {
                    max: MAX_CLIENT_NAME,
                },
            ));
        }
    }
    if let Some(logo) = &m.logo_uri {
        let https = logo.len() <= MAX_URI
            && url::Url::parse(logo).is_ok_and(|u| u.scheme() == "https" && u.host().is_some());
        if !https {
            return Err(InvalidClient::new(P::LogoUri, ClientRule::LogoNotHttps));
        }
    }
    Ok(uris)
}

fn non_blank(parameter: ClientParameter, value: &str) -> Result<String, InvalidClient> {
    let v = value.trim();
    if v.is_empty() {
        return Err(InvalidClient::new(parameter, ClientRule::Empty));
    }
    Ok(v.to_owned())
}

/// RFC 6749 §2.2: client ids are VSCHAR; we also refuse spaces and bound the length.
fn validate_client_id(id: &str) -> Result<(), InvalidClient> {
    if id.is_empty() || id.len() > 255 || !id.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(InvalidClient::new(
            ClientParameter::ClientId,
            ClientRule::ClientIdSyntax,
        ));
    }
    Ok(())
}

/// RFC 6749 §3.3 scope tokens, duplicates dropped.
pub fn parse_scope(scope: &str) -> Result<Vec<String>, InvalidClient> {
    let mut out: Vec<String> = Vec::new();
    for token in scope.split(' ').filter(|s| !s.is_empty()) {
        if !token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
        {
            return Err(InvalidClient::new(
                ClientParameter::Scope,
                ClientRule::ScopeCharacters {
                    token: token.to_owned(),
                },
            ));
        }
        if !out.iter().any(|s| s == token) {
            out.push(token.to_owned());
        }
    }
    Ok(out)
}

fn x5c_thumbprints(jwks: &Value) -> Result<Vec<Thumbprint>, InvalidClient> {
    let invalid = |rule| InvalidClient::new(ClientParameter::Jwks, rule);
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(ClientRule::JwksNotASet))?;
    let mut out = Vec::new();
    for key in keys {
        let Some(first) = key
            .get("x5c")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        else {
            continue;
        };
        let der = first
            .as_str()
            .and_then(|b64| STANDARD.decode(b64).ok())
            .ok_or_else(|| invalid(ClientRule::X5cNotBase64))?;
        CertificateIdentity::from_der(&der).map_err(|e| {
            invalid(ClientRule::X5cCertificate {
                reason: e.to_string(),
            })
        })?;
        out.push(Thumbprint::of_der(&der));
    }
    if out.is_empty() {
        return Err(invalid(ClientRule::X5cMissing));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
