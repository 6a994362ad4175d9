//! Why a request was refused, and its RFC 6750 §3 response.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use thiserror::Error;

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
    InvalidToken(String),
    /// The token lacks a scope the route requires.
    #[error("insufficient_scope: requires {required}")]
    InsufficientScope {
        /// Space-separated scopes the route requires.
        required: String,
    },
    /// The authorization server could not be reached to verify the token.
    #[error("authorization server unavailable: {0}")]
    Unavailable(String),
    /// Set-up failed (discovery, TLS).
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
            Self::InvalidRequest(d) | Self::InvalidToken(d) => d.clone(),
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
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
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
            GuardError::InvalidToken("bound to \"another\"\r\ncert".into()).challenge(),
            "Bearer realm=\"certbound\", error=\"invalid_token\", error_description=\"bound to 'another'''cert\""
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
            let res = e.into_response();
            assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(
                res.headers().get(header::RETRY_AFTER),
                Some(&HeaderValue::from_static("5"))
            );
        }
    }
}
