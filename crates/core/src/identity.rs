//! Identity of a client certificate: what RFC 8705 client authentication
//! matches against and what a bound token carries.

use std::net::IpAddr;

use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use crate::dn::{self, DistinguishedName};
use crate::{IdentityError, Thumbprint};

/// Everything RFC 8705 §2 can match on, derived once from a DER certificate.
#[derive(Debug, Clone)]
pub struct CertificateIdentity {
    /// `x5t#S256` of the DER.
    pub thumbprint: Thumbprint,
    /// Subject, RFC 4514 order.
    pub subject: DistinguishedName,
    /// Issuer, RFC 4514 order.
    pub issuer: DistinguishedName,
    /// Subject alternative names by type.
    pub san: SubjectAltNames,
    /// notBefore / notAfter.
    pub validity: Validity,
}

/// The subjectAltName entries RFC 8705 defines matchers for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectAltNames {
    /// dNSName entries (`tls_client_auth_san_dns`).
    pub dns: Vec<String>,
    /// uniformResourceIdentifier entries (`tls_client_auth_san_uri`).
    pub uri: Vec<String>,
    /// iPAddress entries (`tls_client_auth_san_ip`).
    pub ip: Vec<IpAddr>,
    /// rfc822Name entries (`tls_client_auth_san_email`).
    pub email: Vec<String>,
}

/// A certificate's validity window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// First instant the certificate is valid.
    pub not_before: OffsetDateTime,
    /// Last instant the certificate is valid.
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// Whether `at` lies within the window (inclusive, as RFC 5280 §4.1.2.5).
    pub fn contains(&self, at: OffsetDateTime) -> bool {
        self.not_before <= at && at <= self.not_after
    }
}

impl CertificateIdentity {
    /// Parses a DER certificate. Trailing bytes are an error: what we hash
    /// must be exactly the certificate that was parsed.
    pub fn from_der(der: &[u8]) -> Result<Self, IdentityError> {
        let (rest, cert) = X509Certificate::from_der(der)
            .map_err(|e| IdentityError::NotACertificate(e.to_string()))?;
        if !rest.is_empty() {
            return Err(IdentityError::TrailingData(rest.len()));
        }
        let to_time = |t: x509_parser::time::ASN1Time| {
            OffsetDateTime::from_unix_timestamp(t.timestamp())
                .map_err(|_| IdentityError::BadValidity)
        };
        Ok(Self {
            thumbprint: Thumbprint::of_der(der),
            subject: dn::from_x509_name(cert.subject()),
            issuer: dn::from_x509_name(cert.issuer()),
            san: subject_alt_names(&cert)?,
            validity: Validity {
                not_before: to_time(cert.validity().not_before)?,
                not_after: to_time(cert.validity().not_after)?,
            },
        })
    }
}

/// Whether a DER certificate's key may sign, as TLS client authentication
/// needs (RFC 5280 §4.2.1.3): true without a keyUsage extension, false when
/// one is present without digitalSignature or cannot be read, or when the
/// certificate does not parse.
pub fn permits_digital_signature(der: &[u8]) -> bool {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return false;
    };
    match cert.key_usage() {
        Ok(None) => true,
        Ok(Some(ext)) => ext.value.digital_signature(),
        Err(_) => false,
    }
}

/// A DER certificate's serial number in upper-case hex, as `openssl x509
/// -serial` prints it (no sign byte, no leading zero bytes); `None` if the
/// certificate does not parse.
pub fn serial_hex(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let raw = cert.raw_serial();
    let first = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
    let digits: String = raw[first..].iter().map(|b| format!("{b:02X}")).collect();
    Some(if digits.is_empty() {
        "00".into()
    } else {
        digits
    })
}

fn subject_alt_names(cert: &X509Certificate<'_>) -> Result<SubjectAltNames, IdentityError> {
    let mut san = SubjectAltNames::default();
    let ext = cert
        .subject_alternative_name()
        .map_err(|e| IdentityError::BadSubjectAltName(e.to_string()))?;
    let Some(ext) = ext else {
        return Ok(san);
    };
    for name in &ext.value.general_names {
        match name {
            GeneralName::DNSName(d) => san.dns.push((*d).to_owned()),
            GeneralName::URI(u) => san.uri.push((*u).to_owned()),
            GeneralName::RFC822Name(e) => san.email.push((*e).to_owned()),
            GeneralName::IPAddress(bytes) => {
                san.ip.push(ip_from_bytes(bytes).ok_or_else(|| {
                    IdentityError::BadSubjectAltName(format!(
                        "iPAddress of {} bytes (expected 4 or 16)",
                        bytes.len()
                    ))
                })?)
            }
            // Other name forms have no RFC 8705 matcher.
            _ => {}
        }
    }
    Ok(san)
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Some(IpAddr::from(v4));
    }
    <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_typed_error() {
        assert!(matches!(
            CertificateIdentity::from_der(b"not a cert"),
            Err(IdentityError::NotACertificate(_))
        ));
        assert!(matches!(
            CertificateIdentity::from_der(&[]),
            Err(IdentityError::NotACertificate(_))
        ));
        assert_eq!(serial_hex(b"not a cert"), None);
    }
}
