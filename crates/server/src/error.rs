//! Errors: [`ServerError`] for everything that can go wrong in the server
//! crate, and [`OAuthError`], the one place they become HTTP responses with
//! RFC 6749 error codes.

use std::borrow::Cow;

use axum::response::{IntoResponse, Response};
use certbound_core::ErrorCode;
use certbound_store::StoreError;
use http::{HeaderValue, StatusCode, header};
use thiserror::Error;
use tracing::error;

use crate::clients::InvalidClient;
use crate::config::ConfigError;
use crate::rate_limit::Throttled;
use crate::users::InvalidUser;

/// Failures of the authorization server outside a single request's input.
#[derive(Debug, Error)]
pub enum ServerError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// TLS set-up failed.
    #[error(transparent)]
    Tls(#[from] certbound_tls::TlsError),
    /// A signing key could not be made, read or used.
    #[error("signing key: {0}")]
    Key(String),
    /// The key-encryption key is missing or unreadable, or does not open a
    /// stored signing key.
    #[error("key-encryption key: {0}")]
    KeyEncryption(String),
    /// A stored client record is unreadable (corrupt database or a bug).
    #[error("client {client_id}: stored metadata is invalid: {reason}")]
    CorruptClient {
        /// The client.
        client_id: String,
        /// What is wrong.
        reason: String,
    },
    /// The configuration passed validation but cannot be put into effect.
    #[error("cannot start: {0}")]
    Setup(String),
    /// Registration was refused: the metadata breaks a rule.
    #[error(transparent)]
    InvalidClient(#[from] InvalidClient),
    /// Registration was refused: the `client_id` is taken.
    #[error("client '{client_id}' already exists; remove it first or pick another --id")]
    ClientExists {
        /// The client.
        client_id: String,
        /// The store's conflict.
        #[source]
        source: StoreError,
    },
    /// Client metadata could not be written as JSON.
    #[error("client {client_id}: cannot serialise its metadata: {source}")]
    ClientMetadataJson {
        /// The client.
        client_id: String,
        /// The serialiser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A user record was refused: a field breaks a rule.
    #[error(transparent)]
    InvalidUser(#[from] InvalidUser),
    /// Adding a user was refused: the username is taken.
    #[error("user '{username}' already exists; pick another --username")]
    UserExists {
        /// The username.
        username: String,
        /// The store's conflict.
        #[source]
        source: StoreError,
    },
    /// No user has this username.
    #[error("no user '{username}'; `certbound users list` shows who exists")]
    UnknownUser {
        /// The username asked for.
        username: String,
    },
    /// Hashing or checking a password failed (bad parameters or a corrupt
    /// stored hash); the message names the fault, never the password.
    #[error("password hash: {0}")]
    PasswordHash(String),
    /// Binding a listener or another I/O step failed.
    #[error("{what}: {source}")]
    Io {
        /// The step.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// An OAuth error response: status, `error`, `error_description` and the
/// headers RFC 6749 §5.2 / RFC 6750 §3 require.
#[derive(Debug)]
pub struct OAuthError {
    /// HTTP status.
    pub status: StatusCode,
    /// `error`.
    pub code: ErrorCode,
    /// `error_description`: helpful, never secret.
    pub description: Cow<'static, str>,
    /// `Retry-After` seconds, for a 429.
    pub retry_after: Option<u64>,
}

impl OAuthError {
    /// A 400 with the given code.
    pub fn bad_request(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            description: description.into(),
            retry_after: None,
        }
    }

    /// 400 `invalid_request`.
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::bad_request(ErrorCode::InvalidRequest, description)
    }

    /// 401 `invalid_client`.
    pub fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: ErrorCode::InvalidClient,
            description: description.into(),
            retry_after: None,
        }
    }

    /// 500 `server_error`; the detail goes to the log, not the client.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        error!(error = %detail, "internal error while handling a request");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: ErrorCode::ServerError,
            description: "internal error; the server log has details".into(),
            retry_after: None,
        }
    }
}

impl OAuthError {
    /// 503 `temporarily_unavailable`: the database (or the signing keys it
    /// holds) cannot be reached; the detail goes to the log.
    pub fn store_unavailable(detail: &dyn std::fmt::Display) -> Self {
        error!(error = %detail, "database unavailable");
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: ErrorCode::TemporarilyUnavailable,
            description: "the database is unavailable; retry shortly".into(),
            retry_after: None,
        }
    }

    /// 429 `slow_down` with `Retry-After`: a rate limit ran out.
    pub fn throttled(throttled: &Throttled) -> Self {
        let description = match throttled.limit {
            "client" => {
                "too many requests from this client (rate_limits.client_per_second); retry after the time Retry-After gives"
            }
            _ => {
                "too many requests from this address (rate_limits.address_per_second), or too many failed authentications; retry after the time Retry-After gives"
            }
        };
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: ErrorCode::SlowDown,
            description: description.into(),
            retry_after: Some(throttled.retry_after),
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable { source } => Self::store_unavailable(&source),
            other => Self::internal(&other),
        }
    }
}

impl From<ServerError> for OAuthError {
    fn from(e: ServerError) -> Self {
        match e {
            ServerError::Store(s) => s.into(),
            other => Self::internal(&other),
        }
    }
}

/// Seconds a client should wait after a 503.
const RETRY_AFTER_SECONDS: &str = "5";

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.code.as_str(),
            "error_description": self.description,
        });
        let mut res = (self.status, axum::Json(body)).into_response();
        let headers = res.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // Every 401 carries a challenge (RFC 9110 §15.5.2); Basic is the
        // only HTTP scheme a client can use here (RFC 6749 §5.2).
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="certbound", charset="UTF-8""#),
            );
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        res
    }
}
