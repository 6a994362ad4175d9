//! Request extensions the listener sets, and axum extractors for them.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

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

/// Set on a trusted proxy's request when the listener has a
/// `client_address_header` but no address could be read from it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExpectsAddress;

/// The client's address as a trusted proxy reported it in the listener's
/// `client_address_header`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ForwardedAddress(pub(crate) IpAddr);

/// The rightmost address in the last `name` header: the one the trusted
/// proxy itself added (earlier entries are whatever the client sent).
pub fn forwarded_address(headers: &HeaderMap, name: &HeaderName) -> Option<IpAddr> {
    let value = headers.get_all(name).iter().next_back()?.as_bytes();
    // Split the bytes: what a client put to the left may be anything.
    let last = value.rsplit(|&b| b == b',').next()?;
    let last = std::str::from_utf8(last).ok()?.trim();
    last.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// Who sent the request, for per-caller limits: the TCP peer, or behind a
/// trusted proxy the address the proxy reported. When the listener expects
/// one and none can be read, the proxy's own address counts (one shared
/// bucket, never none); without `client_address_header`, `None`.
#[derive(Debug, Clone, Copy)]
pub struct CallerAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for CallerAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        if let Some(ForwardedAddress(ip)) = parts.extensions.get::<ForwardedAddress>() {
            return Ok(Self(Some(*ip)));
        }
        let direct = parts
            .extensions
            .get::<ConnectionInfo>()
            .filter(|c| !c.trusted_proxy || parts.extensions.get::<ExpectsAddress>().is_some())
            .map(|c| c.peer_addr.ip().to_canonical());
        Ok(Self(direct))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxys_own_entry_is_the_rightmost_of_the_last_header() {
        let name = HeaderName::from_static("x-forwarded-for");
        let mut headers = HeaderMap::new();
        assert_eq!(forwarded_address(&headers, &name), None);
        headers.append(&name, HeaderValue::from_static("6.6.6.6, 10.0.0.1"));
        headers.append(&name, HeaderValue::from_static("1.2.3.4,  192.0.2.7 "));
        // Bytes a client put to the left do not hide the proxy's entry.
        let mut spoofed = headers.clone();
        spoofed.append(
            &name,
            HeaderValue::from_bytes(b"\xff\xfe, 192.0.2.8").unwrap_or(HeaderValue::from_static("")),
        );
        assert_eq!(
            forwarded_address(&spoofed, &name),
            Some(IpAddr::from([192, 0, 2, 8]))
        );
        assert_eq!(
            forwarded_address(&headers, &name),
            Some("192.0.2.7".parse().unwrap_or(IpAddr::from([0, 0, 0, 0])))
        );
        for bad in ["", "unknown", "192.0.2.7:443", "1.2.3.4, ", "::ffff:zz"] {
            let mut headers = HeaderMap::new();
            headers.insert(&name, HeaderValue::from_static(bad));
            assert_eq!(forwarded_address(&headers, &name), None, "{bad:?}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(&name, HeaderValue::from_static("::ffff:192.0.2.9"));
        assert_eq!(
            forwarded_address(&headers, &name),
            Some(IpAddr::from([192, 0, 2, 9]))
        );
    }
}
