//! What can go wrong in the front channel, as data: an error shown to the
//! person in the browser ([`PageError`]), or one sent back to the client by
//! redirect (RFC 6749 §4.1.2.1) once the client and redirect URI are known good.

use std::borrow::Cow;

use certbound_store::StoreError;
use http::StatusCode;
use tracing::error;

use super::request::ClientTarget;
use crate::{OAuthError, ServerError};

/// RFC 6749 §4.1.2.1 error codes of the authorization endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `invalid_request`.
    InvalidRequest,
    /// `unauthorized_client`.
    UnauthorizedClient,
    /// `access_denied`.
    AccessDenied,
    /// `unsupported_response_type`.
    UnsupportedResponseType,
    /// `invalid_scope`.
    InvalidScope,
    /// `server_error`.
    ServerError,
    /// `temporarily_unavailable`.
    TemporarilyUnavailable,
    /// OpenID Connect `login_required`.
    LoginRequired,
    /// OpenID Connect `consent_required`.
    ConsentRequired,
    /// OpenID Connect `interaction_required`.
    InteractionRequired,
}

impl ErrorKind {
    /// The `error` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
        }
    }

    /// The errors a login app may send back to the client when it rejects.
    pub fn for_rejection(code: &str) -> Option<Self> {
        [
            Self::AccessDenied,
            Self::LoginRequired,
            Self::ConsentRequired,
            Self::InteractionRequired,
            Self::TemporarilyUnavailable,
        ]
        .into_iter()
        .find(|k| k.as_str() == code)
    }
}

/// An error page: the person sees it, the client does not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", kind.as_str())]
pub struct PageError {
    /// HTTP status.
    pub status: StatusCode,
    /// What kind of error.
    pub kind: ErrorKind,
    /// What went wrong, for the person (never secret).
    pub description: Cow<'static, str>,
}

impl PageError {
    /// A 400 page.
    pub fn bad_request(kind: ErrorKind, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind,
            description: description.into(),
        }
    }

    /// A 500 page; the detail goes to the log only.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        error!(error = %detail, "internal error in the authorization front channel");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: ErrorKind::ServerError,
            description: "Something went wrong on our side; the server log has details.".into(),
        }
    }
}

impl From<OAuthError> for PageError {
    fn from(e: OAuthError) -> Self {
        // The OAuth error already logged its detail; keep its status.
        Self {
            status: e.status,
            kind: if e.status == StatusCode::SERVICE_UNAVAILABLE {
                ErrorKind::TemporarilyUnavailable
            } else if e.status.is_server_error() {
                ErrorKind::ServerError
            } else {
                ErrorKind::InvalidRequest
            },
            description: e.description,
        }
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        OAuthError::from(e).into()
    }
}

impl From<ServerError> for PageError {
    fn from(e: ServerError) -> Self {
        OAuthError::from(e).into()
    }
}

/// Why an authorization request is refused, and where that is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// On an error page (client or redirect URI not trusted, or the
    /// interaction cannot be continued).
    Page(PageError),
    /// Back to the client, at its registered redirect URI.
    Redirect {
        /// Where to.
        target: ClientTarget,
        /// `error`.
        kind: ErrorKind,
        /// `error_description`.
        description: Cow<'static, str>,
    },
}

impl From<PageError> for AuthorizeError {
    fn from(e: PageError) -> Self {
        Self::Page(e)
    }
}
