//! OAuth 2.0 error codes (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009, RFC 8705).

use std::fmt;

/// The `error` value of an OAuth error response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Malformed request: missing, duplicate or invalid parameter.
    InvalidRequest,
    /// Client authentication failed (401).
    InvalidClient,
    /// The grant or refresh token is invalid, expired or revoked.
    InvalidGrant,
    /// The client may not use this grant type.
    UnauthorizedClient,
    /// The grant type is not supported by this server.
    UnsupportedGrantType,
    /// The requested scope is invalid or exceeds what the client may get.
    InvalidScope,
    /// The access token is invalid (resource servers, RFC 6750).
    InvalidToken,
    /// The token lacks a scope the resource requires (RFC 6750).
    InsufficientScope,
    /// RFC 7009: the server cannot revoke this token type.
    UnsupportedTokenType,
    /// The server is temporarily unable to answer (e.g. the database is down).
    TemporarilyUnavailable,
    /// Too many requests: retry after the time `Retry-After` gives (the
    /// IANA-registered code of RFC 8628 §3.5, with HTTP 429).
    SlowDown,
    /// An unexpected condition; never carries details to the client.
    ServerError,
}

impl ErrorCode {
    /// The wire form, e.g. `invalid_client`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::SlowDown => "slow_down",
            Self::ServerError => "server_error",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
