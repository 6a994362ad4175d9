//! RFC 9068 JWT access-token claims with the RFC 8705 `cnf` confirmation.

use serde::{Deserialize, Serialize};

use crate::Thumbprint;

/// The JWS `typ` header of an RFC 9068 access token.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// RFC 8705 §3.1 confirmation: the certificate the token is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// base64url SHA-256 of the client certificate's DER.
    #[serde(rename = "x5t#S256")]
    pub x5t_s256: String,
}

impl Confirmation {
    /// Binds to a certificate thumbprint.
    pub fn for_thumbprint(thumbprint: Thumbprint) -> Self {
        Self {
            x5t_s256: thumbprint.to_string(),
        }
    }

    /// The bound thumbprint, if the claim is well-formed.
    pub fn thumbprint(&self) -> Option<Thumbprint> {
        Thumbprint::from_base64url(&self.x5t_s256)
    }
}

/// Claims of an access token (RFC 9068 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the client itself for `client_credentials`.
    pub sub: String,
    /// Audience.
    pub aud: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Unique token id, used for revocation.
    pub jti: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Granted scopes, space-separated; absent when none were granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Certificate binding; absent for unbound tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}
