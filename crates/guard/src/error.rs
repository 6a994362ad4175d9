//! Why a request was refused, and its RFC 6750 §3 response.

use std::fmt;

use axum::response::{IntoResponse, Response};
use certbound_jose::Rejection;
use http::{HeaderValue, StatusCode, header};
use thiserror::Error;

/// Why a token was refused with `invalid_token`: data to match on, with
/// the `error_description` the caller sees as its [`fmt::Display`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidToken {
    /// The `Authorization` header's token is not a b64token.
    MalformedBearer,
    /// Not a parseable JWT.
    Malformed,
    /// The JWT's `typ` is not `at+jwt` (RFC 9068).
    NotAnAccessToken,
    /// The JWT has no `kid`.
    MissingKid,
    /// The authorization server, reachable, does not publish the `kid`.
    UnknownKey,
    /// The JWT's `alg` is not one its key may be used with.
    AlgorithmMismatch,
    /// The JWT's `alg` is not an asymmetric algorithm the guard accepts.
    AlgorithmNotAllowed,
    /// The signature does not verify.
    BadSignature,
    /// `exp` has passed.
    Expired,
    /// `nbf` lies ahead.
    NotYetValid,
    /// Another issuer.
    WrongIssuer,
    /// Not meant for this resource (`aud`).
    WrongAudience,
    /// The claims are missing a required member or are mis-shaped.
    InvalidClaims,
    /// `cnf.x5t#S256` is present but not a SHA-256 thumbprint.
    MalformedConfirmation,
    /// Bound to a certificate other than the connection's.
    OtherCertificate,
    /// Bound, but the connection presented no certificate.
    CertificateRequired,
    /// Not bound, and only bound tokens are accepted.
    NotBound,
    /// An opaque token, and introspection is off.
    OpaqueNotAccepted,
    /// Introspection says the token is not active.
    NotActive,
    /// On the authorization server's revocation list.
    Revoked,
}

impl InvalidToken {
    /// The `error_description` (kept stable: clients and docs quote it).
    pub fn description(self) -> &'static str {
        match self {
            Self::MalformedBearer => "malformed Bearer token",
            Self::Malformed => "malformed JWT",
            Self::NotAnAccessToken => "not an access token (typ must be at+jwt)",
            Self::MissingKid => "the JWT has no kid",
            Self::UnknownKey => "signed by a key the authorization server does not publish",
            Self::AlgorithmMismatch => "the JWT's alg does not match its key",
            Self::AlgorithmNotAllowed => "the JWT's alg is not accepted",
            Self::BadSignature => "bad signature",
            Self::Expired => "the token has expired",
            Self::NotYetValid => "the token is not valid yet",
            Self::WrongIssuer => "the token was issued by another authorization server",
            Self::WrongAudience => "the token is not meant for this resource (aud)",
            Self::InvalidClaims => "the token's claims are invalid",
            Self::MalformedConfirmation => "the token's cnf.x5t#S256 is malformed",
            Self::OtherCertificate => "the token is bound to a different client certificate",
            Self::CertificateRequired => {
                "the token is certificate-bound; present the client certificate it was issued to"
            }
            Self::NotBound => {
                "the token is not certificate-bound; this resource accepts only certificate-bound tokens"
            }
            Self::OpaqueNotAccepted => {
                "not a JWT, and this resource does not introspect opaque tokens"
            }
            Self::NotActive => "the token is not active (unknown, expired or revoked)",
            Self::Revoked => "the token has been revoked",
        }
    }
}

impl fmt::Display for InvalidToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl From<Rejection> for InvalidToken {
    fn from(r: Rejection) -> Self {
        match r {
            Rejection::Malformed => Self::Malformed,
            Rejection::MissingKid => Self::MissingKid,
            Rejection::UnknownKid => Self::UnknownKey,
            Rejection::AlgorithmNotAllowed => Self::AlgorithmNotAllowed,
            Rejection::AlgorithmMismatch => Self::AlgorithmMismatch,
            Rejection::BadSignature => Self::BadSignature,
            Rejection::WrongType => Self::NotAnAccessToken,
            Rejection::WrongIssuer => Self::WrongIssuer,
            Rejection::WrongAudience => Self::WrongAudience,
            Rejection::Expired => Self::Expired,
            Rejection::NotYetValid => Self::NotYetValid,
            Rejection::MissingClaim(_) | Rejection::InvalidClaims => Self::InvalidClaims,
        }
    }
}

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GuardError {
    /// No access token: a bare `Bearer` challenge (RFC 6750 §3.1).
    #[error("no access token")]
    MissingToken,
    /// The request is malformed (token in the query string, two tokens…).
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// The token is invalid, expired, revoked, foreign, or bound to another certificate.
    #[error("invalid_token: {0}")]
    InvalidToken(InvalidToken),
    /// The token lacks a scope the route requires.
    #[error("insufficient_scope: requires {required}")]
    InsufficientScope {
        /// Space-separated scopes the route requires.
        required: String,
    },
    /// The authorization server could not be reached to verify the token.
    #[error("authorization server unavailable: {0}")]
    Unavailable(String),
    /// Set-up failed (discovery, TLS), or the authorization server answered
    /// in a way that contradicts the options (another issuer, a missing
    /// endpoint, 401/403 to the guard's own client): retrying helps only
    /// once someone changes one side.
    #[error("{0}")]
    Setup(String),
}

/// The `realm` in our challenges.
const REALM: &str = "certbound";

/// What a caller learns when the authorization server cannot be reached.
const UNAVAILABLE: &str = "the authorization server is temporarily unavailable; retry shortly";

impl GuardError {
    /// HTTP status of the response.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            Self::Unavailable(_) | Self::Setup(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The RFC 6750 `error` code, if any.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            Self::MissingToken => None,
            Self::InvalidRequest(_) => Some("invalid_request"),
            Self::InvalidToken(_) => Some("invalid_token"),
            Self::InsufficientScope { .. } => Some("insufficient_scope"),
            Self::Unavailable(_) | Self::Setup(_) => Some("temporarily_unavailable"),
        }
    }

    /// The `error_description` the caller sees. An unavailable AS gets one
    /// generic sentence: the detail (URLs, connect errors) is for the log.
    fn description(&self) -> String {
        match self {
            Self::MissingToken => String::new(),
            Self::InvalidRequest(d) => d.clone(),
            Self::InvalidToken(why) => why.description().to_owned(),
            Self::Unavailable(_) | Self::Setup(_) => UNAVAILABLE.to_owned(),
            Self::InsufficientScope { required } => {
                format!("this resource requires scope '{required}'")
            }
        }
    }

    /// The `WWW-Authenticate` value (RFC 6750 §3).
    pub fn challenge(&self) -> String {
        let mut c = format!("Bearer realm=\"{REALM}\"");
        if let Some(code) = self
            .code()
            .filter(|_| !matches!(self, Self::Unavailable(_) | Self::Setup(_)))
        {
            c.push_str(&format!(
                ", error=\"{code}\", error_description=\"{}\"",
                quote_safe(&self.description())
            ));
        }
        if let Self::InsufficientScope { required } = self {
            c.push_str(&format!(", scope=\"{}\"", quote_safe(required)));
        }
        c
    }
}

/// Makes text safe inside a quoted-string: no quotes, backslashes or controls.
fn quote_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '"' || c == '\\' || c.is_control() {
                '\''
            } else {
                c
            }
        })
        .collect()
}

impl IntoResponse for GuardError {
    fn into_response(self) -> Response {
        if let Self::Unavailable(detail) | Self::Setup(detail) = &self {
            tracing::warn!(error = %detail, "token could not be verified: authorization server unavailable");
        }
        self.response(RETRY_AFTER_SECONDS)
    }
}

/// `Retry-After` on a 503 when the caller names no other wait.
const RETRY_AFTER_SECONDS: u64 = 5;

impl GuardError {
    /// The RFC 6750 response, with `Retry-After: retry_after_seconds` (at
    /// least 1) on a 503, and nothing logged: for a caller that logs the
    /// outage once rather than per request (a gateway still waiting for its
    /// authorization server).
    pub fn response(&self, retry_after_seconds: u64) -> Response {
        let body = match self.code() {
            Some(code) => {
                serde_json::json!({ "error": code, "error_description": self.description() })
            }
            None => {
                serde_json::json!({ "error": "unauthorized", "error_description": "an access token is required" })
            }
        };
        let mut res = (self.status(), axum::Json(body)).into_response();
        let headers = res.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&self.challenge()) {
            headers.insert(header::WWW_AUTHENTICATE, v);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if self.status() == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_seconds.max(1)),
            );
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_follow_rfc6750() {
        assert_eq!(
            GuardError::MissingToken.challenge(),
            "Bearer realm=\"certbound\""
        );
        assert_eq!(
            GuardError::InvalidRequest("bound to \"another\"\r\ncert".into()).challenge(),
            "Bearer realm=\"certbound\", error=\"invalid_request\", error_description=\"bound to 'another'''cert\""
        );
        assert_eq!(
            GuardError::InvalidToken(InvalidToken::OtherCertificate).challenge(),
            "Bearer realm=\"certbound\", error=\"invalid_token\", error_description=\"the token is bound to a different client certificate\""
        );
        let scope = GuardError::InsufficientScope {
            required: "read write".into(),
        };
        assert_eq!(scope.status(), StatusCode::FORBIDDEN);
        assert!(scope.challenge().ends_with("scope=\"read write\""));
    }

    #[test]
    fn an_unavailable_server_is_described_generically() {
        for e in [
            GuardError::Unavailable("https://as.internal:8443/jwks: connection refused".into()),
            GuardError::Setup("discovering https://as.internal".into()),
        ] {
            assert_eq!(e.description(), UNAVAILABLE);
            assert_eq!(e.challenge(), "Bearer realm=\"certbound\"");
            // A caller's own wait, never below one second.
            for (asked, sent) in [(0, "1"), (1, "1"), (30, "30")] {
                assert_eq!(
                    e.response(asked).headers().get(header::RETRY_AFTER),
                    Some(&HeaderValue::from_static(sent))
                );
            }
            let res = e.into_response();
            assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(
                res.headers().get(header::RETRY_AFTER),
                Some(&HeaderValue::from_static("5"))
            );
        }
    }
}
