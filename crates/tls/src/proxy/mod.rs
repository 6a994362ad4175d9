//! Certificates forwarded by a TLS-terminating proxy, honoured only from
//! peers in `trusted_proxies`. From anyone else the headers are removed
//! before any handler runs: a spoofed certificate header must be worthless.

pub mod envoy;
pub mod nginx;
pub mod rfc9440;

use std::net::IpAddr;

use http::{HeaderMap, HeaderName};
use ipnet::IpNet;
use rustls::pki_types::CertificateDer;

use crate::{CertificateSource, ClientCaBundle, PeerCertificate, ProxyHeaderError, TlsError};

/// RFC 9440 end-entity certificate header.
pub const CLIENT_CERT: &str = "client-cert";
/// RFC 9440 chain header (intermediates, not the end entity).
pub const CLIENT_CERT_CHAIN: &str = "client-cert-chain";
/// nginx convention: `proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;`.
pub const X_SSL_CLIENT_CERT: &str = "x-ssl-client-cert";
/// Envoy's `X-Forwarded-Client-Cert`.
pub const X_FORWARDED_CLIENT_CERT: &str = "x-forwarded-client-cert";

/// Every header that can carry a client certificate; all are stripped from
/// untrusted peers.
pub const CERTIFICATE_HEADERS: [&str; 4] = [
    CLIENT_CERT,
    CLIENT_CERT_CHAIN,
    X_SSL_CLIENT_CERT,
    X_FORWARDED_CLIENT_CERT,
];

/// Name prefixes (folded, see [`folded_starts_with`]) of headers that carry
/// a client certificate or facts about it in some proxy's convention: RFC
/// 9440 (`Client-Cert`, `Client-Cert-Chain`), nginx examples (`X-SSL-Cert`,
/// `X-SSL-Client-*`, `X-Client-Verify`, `X-Client-DN`), Apache
/// (`SSL-Client-*`), Envoy (`X-Forwarded-Client-Cert`), Traefik
/// (`X-Forwarded-Tls-Client-Cert`, `-Info`), IIS ARR (`X-ARR-ClientCert`),
/// AWS ALB (`X-Amzn-Mtls-Clientcert`): an application behind us may believe
/// any of them.
pub const CERTIFICATE_HEADER_PREFIXES: [&str; 11] = [
    "client-cert",
    "x-client-cert",
    "x-client-verify",
    "x-client-dn",
    "ssl-client-",
    "x-ssl-",
    "x-forwarded-client-cert",
    "x-forwarded-tls-client-cert",
    "x-arr-clientcert",
    "x-arr-ssl",
    "x-amzn-mtls-",
];

/// A header-name byte as CGI, WSGI and PHP read it: any character other
/// than a letter or digit (`_`, `.`, …) is `-`, letters are lower case.
fn fold(b: u8) -> u8 {
    if b.is_ascii_alphanumeric() {
        b.to_ascii_lowercase()
    } else {
        b'-'
    }
}

/// Whether `name` begins with `prefix` (lower case, `-` separated) once
/// folded: `X_Certbound.Scope` begins with `x-certbound-`. No allocation.
pub fn folded_starts_with(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len() && name.bytes().zip(prefix.bytes()).all(|(n, p)| fold(n) == p)
}

/// Whether `name` equals `target` (lower case, `-` separated) once folded.
pub fn folded_eq(name: &str, target: &str) -> bool {
    name.len() == target.len() && folded_starts_with(name, target)
}

/// Whether `name`, under any spelling an application could read as one,
/// is a client-certificate header.
pub fn is_certificate_header(name: &str) -> bool {
    // Most names cannot match: one byte decides.
    matches!(
        name.as_bytes().first(),
        Some(b'c' | b'C' | b'x' | b'X' | b's' | b'S')
    ) && CERTIFICATE_HEADER_PREFIXES
        .iter()
        .any(|p| folded_starts_with(name, p))
}

/// The proxies whose certificate headers we believe.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    /// Trusts the given networks.
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self { nets }
    }

    /// Parses entries such as `10.0.0.0/8`, `127.0.0.1` or `::1`.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, TlsError> {
        entries
            .iter()
            .map(|e| {
                let e = e.as_ref().trim();
                e.parse::<IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| TlsError::BadProxyCidr(e.to_owned()))
            })
            .collect::<Result<_, _>>()
            .map(Self::new)
    }

    /// Whether a TCP peer is trusted. IPv4-mapped IPv6 addresses count as IPv4.
    pub fn contains(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.nets.iter().any(|n| n.contains(&peer))
    }
}

/// Removes every certificate header under any spelling
/// ([`is_certificate_header`]); returns the names that were present.
pub fn strip_certificate_headers(headers: &mut HeaderMap) -> Vec<HeaderName> {
    // Nearly every request has none; looking first spares the collection.
    if !headers.keys().any(|k| is_certificate_header(k.as_str())) {
        return Vec::new();
    }
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|k| is_certificate_header(k.as_str()))
        .cloned()
        .collect();
    for name in &doomed {
        headers.remove(name);
    }
    doomed
}

/// The one header format a trusted-proxy listener believes. Exactly one:
/// a proxy only overwrites its own header, so a client could smuggle any
/// other format through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateHeader {
    /// RFC 9440 `Client-Cert` (+ `Client-Cert-Chain`).
    Rfc9440,
    /// nginx `$ssl_client_escaped_cert` in `X-SSL-Client-Cert`.
    Nginx,
    /// Envoy `X-Forwarded-Client-Cert`.
    Envoy,
}

impl CertificateHeader {
    /// Config names: `rfc9440`, `nginx`, `envoy`.
    pub const NAMES: [&'static str; 3] = ["rfc9440", "nginx", "envoy"];

    /// Parses a config name.
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "rfc9440" => Some(Self::Rfc9440),
            "nginx" => Some(Self::Nginx),
            "envoy" => Some(Self::Envoy),
            _ => None,
        }
    }
}

/// Reads the certificate a trusted proxy forwarded in the configured
/// format; `Ok(None)` when it sent none. Other formats are never read (the
/// listener strips them).
pub fn certificate_from_headers(
    headers: &HeaderMap,
    format: CertificateHeader,
    client_cas: &ClientCaBundle,
) -> Result<Option<PeerCertificate>, ProxyHeaderError> {
    let (chain, source, header) = match format {
        CertificateHeader::Rfc9440 => {
            let Some(leaf) = single(headers, CLIENT_CERT, "Client-Cert")? else {
                if headers.contains_key(CLIENT_CERT_CHAIN) {
                    return Err(ProxyHeaderError::new(
                        "Client-Cert-Chain",
                        "sent without Client-Cert",
                    ));
                }
                return Ok(None);
            };
            let mut chain = vec![rfc9440::parse_client_cert(leaf)?];
            chain.extend(rfc9440::parse_client_cert_chain(
                headers
                    .get_all(CLIENT_CERT_CHAIN)
                    .iter()
                    .map(|v| v.as_bytes()),
            )?);
            (chain, CertificateSource::Rfc9440, "Client-Cert")
        }
        CertificateHeader::Nginx => {
            match single(headers, X_SSL_CLIENT_CERT, "X-SSL-Client-Cert")? {
                Some(v) => (
                    nginx::parse_escaped_pem(v)?,
                    CertificateSource::NginxEscapedPem,
                    "X-SSL-Client-Cert",
                ),
                None => return Ok(None),
            }
        }
        CertificateHeader::Envoy => {
            if !headers.contains_key(X_FORWARDED_CLIENT_CERT) {
                return Ok(None);
            }
            // Envoy appends one element per hop; several header lines are one list.
            let joined = headers
                .get_all(X_FORWARDED_CLIENT_CERT)
                .iter()
                .map(|v| v.as_bytes())
                .collect::<Vec<_>>()
                .join(&b","[..]);
            (
                envoy::parse_xfcc(&joined)?,
                CertificateSource::EnvoyXfcc,
                "X-Forwarded-Client-Cert",
            )
        }
    };
    PeerCertificate::from_chain(chain, client_cas, source).map_err(|e| {
        ProxyHeaderError::new(header, format!("the certificate cannot be parsed: {e}"))
    })
}

/// The one value of a header that must not repeat; `None` if absent or empty
/// (nginx sends an empty value when the client presented no certificate).
fn single<'a>(
    headers: &'a HeaderMap,
    name: &str,
    display: &'static str,
) -> Result<Option<&'a [u8]>, ProxyHeaderError> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(ProxyHeaderError::new(display, "appears more than once"));
    }
    Ok(first
        .map(|v| v.as_bytes())
        .filter(|v| !v.iter().all(u8::is_ascii_whitespace)))
}

/// Parses every PEM CERTIFICATE block in `pem`, in order; at least one.
pub(crate) fn certificates_from_pem(
    pem: &[u8],
    header: &'static str,
) -> Result<Vec<CertificateDer<'static>>, ProxyHeaderError> {
    use rustls::pki_types::pem::PemObject;
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ProxyHeaderError::new(header, format!("invalid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(ProxyHeaderError::new(
            header,
            "no PEM CERTIFICATE block found",
        ));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxy_cidrs() {
        let t = TrustedProxies::parse(&["10.0.0.0/8", "127.0.0.1", "::1"]).unwrap_or_default();
        assert!(t.contains("10.2.3.4".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))));
        assert!(t.contains("127.0.0.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))));
        assert!(
            t.contains(
                "::ffff:10.0.0.1"
                    .parse()
                    .unwrap_or(IpAddr::from([0, 0, 0, 0]))
            )
        );
        assert!(!t.contains("11.0.0.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))));
        assert!(!t.contains("127.0.0.2".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))));
        assert!(matches!(
            TrustedProxies::parse(&["10.0.0.0/33"]),
            Err(TlsError::BadProxyCidr(_))
        ));
        assert!(matches!(
            TrustedProxies::parse(&["example.com"]),
            Err(TlsError::BadProxyCidr(_))
        ));
    }

    #[test]
    fn certificate_headers_are_stripped_under_every_spelling() {
        let mut h = HeaderMap::new();
        let spoofed = [
            "client-cert",
            "Client_Cert",
            "client.cert.chain",
            "X-Client-Cert",
            "ssl_client_cert",
            "SSL-Client-Verify",
            "X-SSL-Client-Cert",
            "x_ssl_client_s_dn",
            "X-Forwarded_Client-Cert",
            "x.forwarded.client.cert",
        ];
        for name in spoofed {
            if let Ok(n) = HeaderName::from_bytes(name.as_bytes()) {
                h.append(n, http::HeaderValue::from_static("x"));
            }
        }
        assert_eq!(h.len(), spoofed.len(), "hyper accepts every spelling");
        for keep in [
            "accept",
            "x-client-id",
            "clientcert",
            "x-forwarded-for",
            "ssl",
        ] {
            h.insert(keep, http::HeaderValue::from_static("1"));
        }
        let stripped = strip_certificate_headers(&mut h);
        assert_eq!(stripped.len(), spoofed.len(), "{stripped:?}");
        let mut left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(
            left,
            [
                "accept",
                "clientcert",
                "ssl",
                "x-client-id",
                "x-forwarded-for"
            ]
        );
        assert!(strip_certificate_headers(&mut h).is_empty());
    }
}
