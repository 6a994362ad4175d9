//! RFC 8705 §2 client authentication: which method a client registered and,
//! for `tls_client_auth`, how its certificate is matched.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::{CertificateIdentity, DistinguishedName};

/// `token_endpoint_auth_method` values certbound supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// PKI mutual TLS (RFC 8705 §2.1).
    TlsClientAuth,
    /// Self-signed certificate mutual TLS (RFC 8705 §2.2).
    SelfSignedTlsClientAuth,
    /// HTTP Basic with the client secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// Client secret in the form body (RFC 6749 §2.3.1).
    ClientSecretPost,
    /// A public client (native or single-page app) that holds no secret:
    /// it sends only `client_id` and must use PKCE (RFC 7591 §2 `none`).
    None,
}

impl AuthMethod {
    /// Every supported method, in metadata order.
    pub const ALL: [AuthMethod; 5] = [
        Self::TlsClientAuth,
        Self::SelfSignedTlsClientAuth,
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::None,
    ];

    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TlsClientAuth => "tls_client_auth",
            Self::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
        }
    }

    /// Whether the method authenticates with a client certificate.
    pub fn uses_certificate(self) -> bool {
        matches!(self, Self::TlsClientAuth | Self::SelfSignedTlsClientAuth)
    }

    /// Whether the method authenticates with a shared secret.
    pub fn uses_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost)
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|m| m.as_str()).collect();
                format!(
                    "unsupported auth method '{s}'; use one of {}",
                    names.join(", ")
                )
            })
    }
}

/// The one `tls_client_auth_*` value a `tls_client_auth` client registers.
#[derive(Debug, Clone, PartialEq)]
pub enum TlsClientAuthMatcher {
    /// `tls_client_auth_subject_dn`: RFC 4517 distinguishedNameMatch.
    SubjectDn(DistinguishedName),
    /// `tls_client_auth_san_dns`: one dNSName SAN, case-insensitive.
    SanDns(String),
    /// `tls_client_auth_san_uri`: one URI SAN, exact.
    SanUri(String),
    /// `tls_client_auth_san_ip`: one iPAddress SAN.
    SanIp(IpAddr),
    /// `tls_client_auth_san_email`: one rfc822Name SAN, case-insensitive.
    SanEmail(String),
}

impl TlsClientAuthMatcher {
    /// Whether the certificate carries the registered value.
    pub fn matches(&self, cert: &CertificateIdentity) -> bool {
        match self {
            Self::SubjectDn(dn) => dn.matches(&cert.subject),
            Self::SanDns(d) => cert.san.dns.iter().any(|x| x.eq_ignore_ascii_case(d)),
            Self::SanUri(u) => cert.san.uri.iter().any(|x| x == u),
            Self::SanIp(ip) => cert
                .san
                .ip
                .iter()
                .any(|x| x.to_canonical() == ip.to_canonical()),
            Self::SanEmail(e) => cert.san.email.iter().any(|x| x.eq_ignore_ascii_case(e)),
        }
    }

    /// The metadata parameter name, e.g. `tls_client_auth_san_dns`.
    pub fn parameter(&self) -> &'static str {
        match self {
            Self::SubjectDn(_) => "tls_client_auth_subject_dn",
            Self::SanDns(_) => "tls_client_auth_san_dns",
            Self::SanUri(_) => "tls_client_auth_san_uri",
            Self::SanIp(_) => "tls_client_auth_san_ip",
            Self::SanEmail(_) => "tls_client_auth_san_email",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SubjectAltNames, Thumbprint, Validity};

    fn identity(subject: &str, san: SubjectAltNames) -> CertificateIdentity {
        let dn = |s: &str| DistinguishedName::parse(s).unwrap_or_else(|e| panic!("{e}"));
        CertificateIdentity {
            thumbprint: Thumbprint::of_der(b"x"),
            subject: dn(subject),
            issuer: dn("CN=CA"),
            san,
            validity: Validity {
                not_before: time::OffsetDateTime::UNIX_EPOCH,
                not_after: time::OffsetDateTime::UNIX_EPOCH,
            },
        }
    }

    #[test]
    fn each_matcher() {
        let san = SubjectAltNames {
            dns: vec!["A.Example".into()],
            uri: vec!["spiffe://bank/a".into()],
            ip: vec!["10.0.0.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))],
            email: vec!["A@Bank.example".into()],
        };
        let id = identity("CN=Client A,O=Bank", san);
        let dn = DistinguishedName::parse("cn=client a, o=bank").unwrap_or_else(|e| panic!("{e}"));
        assert!(TlsClientAuthMatcher::SubjectDn(dn).matches(&id));
        assert!(TlsClientAuthMatcher::SanDns("a.example".into()).matches(&id));
        assert!(!TlsClientAuthMatcher::SanDns("b.example".into()).matches(&id));
        assert!(TlsClientAuthMatcher::SanUri("spiffe://bank/a".into()).matches(&id));
        assert!(!TlsClientAuthMatcher::SanUri("spiffe://bank/A".into()).matches(&id));
        assert!(
            TlsClientAuthMatcher::SanIp(
                "::ffff:10.0.0.1"
                    .parse()
                    .unwrap_or(IpAddr::from([0, 0, 0, 0]))
            )
            .matches(&id)
        );
        assert!(TlsClientAuthMatcher::SanEmail("a@bank.example".into()).matches(&id));
        assert_eq!(
            "tls_client_auth".parse::<AuthMethod>(),
            Ok(AuthMethod::TlsClientAuth)
        );
        assert_eq!("none".parse::<AuthMethod>(), Ok(AuthMethod::None));
        assert!("private_key_jwt".parse::<AuthMethod>().is_err());
    }
}
