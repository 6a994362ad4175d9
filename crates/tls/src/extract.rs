//! Request extensions the listener sets, and axum extractors for them.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::StatusCode;
use http::request::Parts;

use crate::PeerCertificate;

/// Facts about the connection a request arrived on.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// The TCP peer (the proxy, behind a trusted proxy).
    pub peer_addr: SocketAddr,
    /// Negotiated TLS version, `None` on a plain-HTTP listener.
    pub tls_version: Option<&'static str>,
    /// Whether the TLS session was resumed (the certificate comes from the session).
    pub resumed: bool,
    /// Whether the peer is a trusted proxy whose certificate headers we honour.
    pub trusted_proxy: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for ConnectionInfo {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<ConnectionInfo>().cloned().ok_or((
            StatusCode::INTERNAL_SERVER_ERROR,
            "router not served by certbound_tls::serve",
        ))
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for PeerCertificate {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<PeerCertificate>().cloned())
    }
}
