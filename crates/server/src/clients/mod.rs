//! Registered clients: the metadata we store (RFC 7591 names), its
//! validation at registration, and the parsed form authentication uses.

pub mod auth;
mod cache;
mod secret;

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use certbound_core::{
    AuthMethod, CertificateIdentity, DistinguishedName, Thumbprint, TlsClientAuthMatcher,
};
use certbound_store::StoredClient;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use cache::ClientCache;
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
}

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
    /// The metadata as stored (for `clients show`).
    pub metadata: ClientMetadata,
}

impl RegisteredClient {
    /// Parses and validates metadata; the error names the bad parameter.
    pub fn from_metadata(
        client_id: &str,
        metadata: ClientMetadata,
        secret_hash: Option<String>,
    ) -> Result<Self, String> {
        validate_client_id(client_id)?;
        let method: AuthMethod = metadata.token_endpoint_auth_method.parse()?;
        let m = &metadata;
        let mut matchers = Vec::new();
        if let Some(dn) = &m.tls_client_auth_subject_dn {
            let parsed = DistinguishedName::parse(dn)
                .map_err(|e| format!("tls_client_auth_subject_dn: {e}"))?;
            if parsed.is_empty() {
                return Err("tls_client_auth_subject_dn is empty".into());
            }
            matchers.push(TlsClientAuthMatcher::SubjectDn(parsed));
        }
        if let Some(d) = &m.tls_client_auth_san_dns {
            matchers.push(TlsClientAuthMatcher::SanDns(non_blank(
                "tls_client_auth_san_dns",
                d,
            )?));
        }
        if let Some(u) = &m.tls_client_auth_san_uri {
            matchers.push(TlsClientAuthMatcher::SanUri(non_blank(
                "tls_client_auth_san_uri",
                u,
            )?));
        }
        if let Some(ip) = &m.tls_client_auth_san_ip {
            let parsed: IpAddr = ip
                .trim()
                .parse()
                .map_err(|_| format!("tls_client_auth_san_ip '{ip}' is not an IP address"))?;
            matchers.push(TlsClientAuthMatcher::SanIp(parsed));
        }
        if let Some(e) = &m.tls_client_auth_san_email {
            matchers.push(TlsClientAuthMatcher::SanEmail(non_blank(
                "tls_client_auth_san_email",
                e,
            )?));
        }
        let matcher = match (method, matchers.len()) {
            (AuthMethod::TlsClientAuth, 1) => matchers.pop(),
            (AuthMethod::TlsClientAuth, 0) => {
                return Err("tls_client_auth needs exactly one of tls_client_auth_subject_dn, _san_dns, _san_uri, _san_ip, _san_email".into());
            }
            (AuthMethod::TlsClientAuth, _) => {
                let names: Vec<&str> = matchers
                    .iter()
                    .map(TlsClientAuthMatcher::parameter)
                    .collect();
                return Err(format!(
                    "tls_client_auth takes exactly one matcher, got {}",
                    names.join(" and ")
                ));
            }
            (_, 0) => None,
            (other, _) => {
                return Err(format!(
                    "tls_client_auth_* parameters apply only to tls_client_auth, not {other}"
                ));
            }
        };
        let self_signed_thumbprints = match (method, &m.jwks) {
            (AuthMethod::SelfSignedTlsClientAuth, Some(jwks)) => x5c_thumbprints(jwks)?,
            (AuthMethod::SelfSignedTlsClientAuth, None) => {
                return Err(
                    "self_signed_tls_client_auth needs jwks with the client's certificate in x5c"
                        .into(),
                );
            }
            _ => Vec::new(),
        };
        if method.uses_secret() != secret_hash.is_some() {
            return Err(if method.uses_secret() {
                format!("{method} needs a client secret")
            } else {
                format!("{method} clients have no client secret")
            });
        }
        let scopes = parse_scope(&m.scope)?;
        for grant in &m.grant_types {
            if grant != "client_credentials" {
                return Err(format!(
                    "grant type '{grant}' is not supported; use client_credentials"
                ));
            }
        }
        if m.require_certificate_bound_access_tokens
            && !m.tls_client_certificate_bound_access_tokens
        {
            return Err("require_certificate_bound_access_tokens contradicts tls_client_certificate_bound_access_tokens = false".into());
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
            metadata,
        })
    }

    /// Parses a stored record; failure means a corrupt database.
    pub fn from_stored(stored: StoredClient) -> Result<Self, ServerError> {
        let corrupt = |reason: String| ServerError::CorruptClient {
            client_id: stored.client_id.clone(),
            reason,
        };
        let metadata: ClientMetadata =
            serde_json::from_str(&stored.metadata).map_err(|e| corrupt(e.to_string()))?;
        Self::from_metadata(&stored.client_id, metadata, stored.secret_hash.clone())
            .map_err(corrupt)
    }

    /// The record to store.
    pub fn to_stored(&self, created_at: i64) -> Result<StoredClient, ServerError> {
        Ok(StoredClient {
            client_id: self.client_id.clone(),
            metadata: serde_json::to_string(&self.metadata).map_err(|e| {
                ServerError::Registration(format!("cannot serialise metadata: {e}"))
            })?,
            secret_hash: self.secret_hash.clone(),
            created_at,
        })
    }
}

fn non_blank(name: &str, value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(format!("{name} is empty"));
    }
    Ok(v.to_owned())
}

/// RFC 6749 §2.2: client ids are VSCHAR; we also refuse spaces and bound the length.
fn validate_client_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 255 || !id.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err("client_id must be 1-255 printable ASCII characters without spaces".into());
    }
    Ok(())
}

/// RFC 6749 §3.3 scope tokens.
pub fn parse_scope(scope: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for token in scope.split(' ').filter(|s| !s.is_empty()) {
        if !token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
        {
            return Err(format!(
                "scope '{}' contains characters RFC 6749 §3.3 does not allow",
                token.escape_default()
            ));
        }
        if !out.iter().any(|s| s == token) {
            out.push(token.to_owned());
        }
    }
    Ok(out)
}

fn x5c_thumbprints(jwks: &Value) -> Result<Vec<Thumbprint>, String> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("jwks must be a JWK Set: {\"keys\": [...]}")?;
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
            .ok_or("jwks x5c entries must be base64 DER certificates")?;
        CertificateIdentity::from_der(&der).map_err(|e| format!("jwks x5c certificate: {e}"))?;
        out.push(Thumbprint::of_der(&der));
    }
    if out.is_empty() {
        return Err(
            "self_signed_tls_client_auth needs at least one certificate in jwks x5c".into(),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(f: impl FnOnce(&mut ClientMetadata)) -> Result<RegisteredClient, String> {
        let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
        f(&mut m);
        RegisteredClient::from_metadata("c", m, None)
    }

    #[test]
    fn registration_rules() {
        assert!(tls(|m| m.tls_client_auth_san_dns = Some("a.example".into())).is_ok());
        let two = tls(|m| {
            m.tls_client_auth_san_dns = Some("a".into());
            m.tls_client_auth_subject_dn = Some("CN=a".into());
        });
        assert_eq!(
            two.err().as_deref(),
            Some(
                "tls_client_auth takes exactly one matcher, got tls_client_auth_subject_dn and tls_client_auth_san_dns"
            )
        );
        assert!(tls(|_| {}).is_err());
        assert!(tls(|m| m.tls_client_auth_san_ip = Some("nope".into())).is_err());
        assert!(tls(|m| m.tls_client_auth_subject_dn = Some("CN=a,,".into())).is_err());
        assert!(
            tls(|m| {
                m.tls_client_auth_san_dns = Some("a".into());
                m.scope = "ok bad\"quote".into();
            })
            .is_err()
        );
        let ss = RegisteredClient::from_metadata(
            "c",
            ClientMetadata::new(AuthMethod::SelfSignedTlsClientAuth),
            None,
        );
        assert!(ss.err().is_some_and(|e| e.contains("needs jwks")));
        let basic = RegisteredClient::from_metadata(
            "c",
            ClientMetadata::new(AuthMethod::ClientSecretBasic),
            None,
        );
        assert!(
            basic
                .err()
                .is_some_and(|e| e.contains("needs a client secret"))
        );
        assert!(
            RegisteredClient::from_metadata(
                "has space",
                ClientMetadata::new(AuthMethod::ClientSecretBasic),
                Some("h".into())
            )
            .is_err()
        );
        assert_eq!(
            parse_scope(" a b a ").unwrap_or_default(),
            vec!["a".to_owned(), "b".to_owned()]
        );
    }
}
