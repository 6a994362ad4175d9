//! What a certificate should say: subject, SANs, lifetime, purpose.

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

use crate::{KeyAlgorithm, PkiError};

/// The purpose a certificate is issued for, which sets its key usages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Usage {
    /// TLS client (extendedKeyUsage clientAuth).
    #[default]
    Client,
    /// TLS server (extendedKeyUsage serverAuth).
    Server,
}

/// Subject, SANs and lifetime of a certificate to issue.
#[derive(Debug, Clone, Default)]
pub struct CertificateRequest {
    /// Subject CN.
    pub common_name: Option<String>,
    /// Subject O.
    pub organization: Option<String>,
    /// Subject OU.
    pub organizational_unit: Option<String>,
    /// dNSName SANs.
    pub dns: Vec<String>,
    /// URI SANs.
    pub uri: Vec<String>,
    /// iPAddress SANs.
    pub ip: Vec<IpAddr>,
    /// rfc822Name SANs.
    pub email: Vec<String>,
    /// Lifetime in days from now (default 365).
    pub days: Option<u32>,
    /// Explicit validity window, overriding `days` (tests make expired certificates with it).
    pub validity: Option<(OffsetDateTime, OffsetDateTime)>,
    /// Key type.
    pub algorithm: KeyAlgorithm,
    /// Client or server.
    pub usage: Usage,
    /// keyUsage bits instead of the default for `usage` (an empty list
    /// leaves the extension out); tests make unusual certificates with it.
    pub key_usages: Option<Vec<KeyUsagePurpose>>,
    /// extendedKeyUsage purposes instead of the default for `usage` (an
    /// empty list leaves the extension out); for tests, like `key_usages`.
    pub extended_key_usages: Option<Vec<ExtendedKeyUsagePurpose>>,
}

/// Leeway for clocks that run slightly behind ours.
const BACKDATE: Duration = Duration::minutes(5);

impl CertificateRequest {
    pub(crate) fn to_params(&self) -> Result<CertificateParams, PkiError> {
        let mut params = CertificateParams::default();
        // DER lists RDNs from the top down; push O before CN so the RFC 4514
        // string reads the conventional way, `CN=…,OU=…,O=…`.
        params.distinguished_name = DistinguishedName::new();
        if let Some(o) = &self.organization {
            params
                .distinguished_name
                .push(DnType::OrganizationName, o.as_str());
        }
        if let Some(ou) = &self.organizational_unit {
            params
                .distinguished_name
                .push(DnType::OrganizationalUnitName, ou.as_str());
        }
        if let Some(cn) = &self.common_name {
            params
                .distinguished_name
                .push(DnType::CommonName, cn.as_str());
        }
        if params.distinguished_name.iter().next().is_none()
            && self.dns.is_empty()
            && self.uri.is_empty()
            && self.ip.is_empty()
            && self.email.is_empty()
        {
            return Err(PkiError::InvalidRequest {
                field: "--cn",
                reason: "a certificate needs a subject or at least one SAN".into(),
            });
        }
        params.subject_alt_names = self.subject_alt_names()?;
        let (not_before, not_after) = match self.validity {
            Some(window) => window,
            None => {
                let now = OffsetDateTime::now_utc();
                let days = self.days.unwrap_or(365);
                if days == 0 {
                    return Err(PkiError::InvalidRequest {
                        field: "--days",
                        reason: "must be at least 1".into(),
                    });
                }
                (now - BACKDATE, now + Duration::days(i64::from(days)))
            }
        };
        params.not_before = not_before;
        params.not_after = not_after;
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if self.algorithm == KeyAlgorithm::Rsa2048 {
            params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
        }
        params.extended_key_usages = vec![match self.usage {
            Usage::Client => ExtendedKeyUsagePurpose::ClientAuth,
            Usage::Server => ExtendedKeyUsagePurpose::ServerAuth,
        }];
        if let Some(usages) = &self.key_usages {
            params.key_usages.clone_from(usages);
        }
        if let Some(purposes) = &self.extended_key_usages {
            params.extended_key_usages.clone_from(purposes);
        }
        Ok(params)
    }

    fn subject_alt_names(&self) -> Result<Vec<SanType>, PkiError> {
        let ia5 = |field: &'static str, s: &str| {
            s.to_owned()
                .try_into()
                .map_err(|_| PkiError::InvalidRequest {
                    field,
                    reason: format!("'{s}' is not ASCII (IA5String)"),
                })
        };
        let mut sans = Vec::new();
        for d in &self.dns {
            sans.push(SanType::DnsName(ia5("--dns", d)?));
        }
        for u in &self.uri {
            sans.push(SanType::URI(ia5("--uri", u)?));
        }
        for e in &self.email {
            sans.push(SanType::Rfc822Name(ia5("--email", e)?));
        }
        sans.extend(self.ip.iter().copied().map(SanType::IpAddress));
        Ok(sans)
    }
}

/// Parameters of a CA certificate.
pub(crate) fn ca_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::OrganizationName, "certbound");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - BACKDATE;
    params.not_after = now + Duration::days(3650);
    params
}
