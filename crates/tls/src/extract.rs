//! Request extensions the listener sets, and axum extractors for them.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use http::{HeaderValue, StatusCode};

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
    /// `peer_addr`'s IP as a header value (`X-Forwarded-For`), rendered once
    /// per connection rather than on every request.
    pub peer_ip: HeaderValue,
}

impl ConnectionInfo {
    /// Facts about a connection from `peer_addr`, not yet a trusted proxy.
    pub fn new(peer_addr: SocketAddr) -> Self {
        let ip = peer_addr.ip().to_canonical().to_string();
        Self {
            peer_addr,
            tls_version: None,
            resumed: false,
            trusted_proxy: false,
            // An IP address is always a valid header value.
            peer_ip: HeaderValue::from_str(&ip).unwrap_or(HeaderValue::from_static("unknown")),
        }
    }
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
