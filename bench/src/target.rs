//! Where the load goes: the `--url` parsed, and the loopback-only rule that
//! every target and listen address must pass before any socket is opened.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use http::uri::{PathAndQuery, Uri};
use rustls::pki_types::ServerName;

use crate::error::{BenchError, Result};

/// A parsed, resolved, loopback-checked target.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL as given, for the report.
    pub url: String,
    /// Whether to speak TLS.
    pub tls: bool,
    /// The one address every connection goes to (never re-resolved).
    pub addr: SocketAddr,
    /// The name for SNI and certificate verification.
    pub server_name: ServerName<'static>,
    /// The `Host` header value (`host[:port]` as written).
    pub host_header: String,
    /// The request target (origin form).
    pub path: Uri,
}

impl Target {
    /// Parses `url` (http or https), resolves its host and refuses anything
    /// that is not loopback.
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |reason: &str| BenchError::BadUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = url
            .parse()
            .map_err(|e| bad(&format!("{e}; give e.g. https://127.0.0.1:8443/token")))?;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad("the scheme must be https:// or http://")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| bad("no host; give e.g. https://127.0.0.1:8443/token"))?;
        if authority.as_str().contains('@') {
            return Err(bad("user information in the URL is not supported"));
        }
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let addr = resolve_loopback(host, port)?;
        let server_name = ServerName::try_from(host.to_owned())
            .map_err(|e| bad(&format!("host is not a valid TLS server name: {e}")))?;
        let path = uri
            .path_and_query()
            .map_or_else(|| PathAndQuery::from_static("/"), Clone::clone);
        let path = Uri::from(path);
        Ok(Self {
            url: url.to_owned(),
            tls,
            addr,
            server_name,
            host_header: authority.as_str().to_owned(),
            path,
        })
    }
}

/// True for 127.0.0.0/8, ::1 and IPv4-mapped loopback.
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// The first address `host` resolves to, if every address it resolves to is
/// loopback; IP literals are checked without any lookup.
pub fn resolve_loopback(host: &str, port: u16) -> Result<SocketAddr> {
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => (host, port)
            .to_socket_addrs()
            .map_err(|e| BenchError::Resolve {
                host: host.to_owned(),
                reason: e.to_string(),
            })?
            .collect(),
    };
    let Some(first) = addrs.first().copied() else {
        return Err(BenchError::Resolve {
            host: host.to_owned(),
            reason: "no addresses".into(),
        });
    };
    if addrs.iter().all(|a| is_loopback(a.ip())) {
        Ok(first)
    } else {
        let resolved: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
        Err(BenchError::NotLoopback {
            host: host.to_owned(),
            resolved: resolved.join(", "),
        })
    }
}

/// Refuses a listen address outside loopback.
pub fn check_listen(addr: SocketAddr) -> Result<SocketAddr> {
    if is_loopback(addr.ip()) {
        Ok(addr)
    } else {
        Err(BenchError::NotLoopback {
            host: addr.to_string(),
            resolved: addr.ip().to_string(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_loopback_urls() {
        let t = Target::parse("https://127.0.0.1:8443/token?a=b").unwrap();
        assert!(t.tls);
        assert_eq!(t.addr, "127.0.0.1:8443".parse().unwrap());
        assert_eq!(t.host_header, "127.0.0.1:8443");
        assert_eq!(t.path.to_string(), "/token?a=b");

        let t = Target::parse("http://[::1]:8080").unwrap();
        assert!(!t.tls);
        assert_eq!(t.addr, "[::1]:8080".parse().unwrap());
        assert_eq!(t.path.to_string(), "/");

        let t = Target::parse("https://localhost/x").unwrap();
        assert!(is_loopback(t.addr.ip()));
        assert_eq!(t.addr.port(), 443);
    }

    #[test]
    fn refuses_non_loopback_and_bad_urls() {
        // (url, refused as not loopback rather than as a bad URL)
        for (url, not_loopback) in [
            ("https://192.0.2.1/", true),
            ("http://10.0.0.1:80/", true),
            ("https://0.0.0.0:443/", true),
            ("https://[2001:db8::1]/", true),
            ("ftp://127.0.0.1/", false),
            ("127.0.0.1:80", false),
            ("https://u:p@127.0.0.1/", false),
            ("/path", false),
        ] {
            let err = Target::parse(url).unwrap_err();
            if not_loopback {
                assert!(
                    matches!(err, BenchError::NotLoopback { .. }),
                    "{url}: {err}"
                );
                assert_eq!(err.exit_code(), 2);
            } else {
                assert!(matches!(err, BenchError::BadUrl { .. }), "{url}: {err}");
            }
        }
        assert!(Target::parse("https://[::ffff:127.0.0.1]:1/").is_ok());
    }

    #[test]
    fn listen_must_be_loopback() {
        assert!(check_listen("127.0.0.1:0".parse().unwrap()).is_ok());
        assert!(check_listen("[::1]:0".parse().unwrap()).is_ok());
        assert!(check_listen("0.0.0.0:80".parse().unwrap()).is_err());
    }
}
