//! A certificate authority that signs server and client certificates.

use rcgen::{CertifiedIssuer, Issuer, KeyPair};

use crate::{CertificateRequest, KeyAlgorithm, PkiError};

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// The PKCS#8 private key, PEM. Secret.
    pub key_pem: String,
}

/// A CA able to sign certificates: generated fresh or loaded from PEM.
pub struct CertificateAuthority {
    issuer: Issuer<'static, KeyPair>,
    cert: IssuedCertificate,
}

impl CertificateAuthority {
    /// Generates a new self-signed CA.
    pub fn generate(algorithm: KeyAlgorithm, common_name: &str) -> Result<Self, PkiError> {
        let key = algorithm.generate()?;
        let key_pem = key.serialize_pem();
        let certified = CertifiedIssuer::self_signed(crate::request::ca_params(common_name), key)
            .map_err(PkiError::crypto("self-sign the CA certificate"))?;
        let cert = IssuedCertificate {
            cert_pem: certified.pem(),
            cert_der: certified.der().to_vec(),
            key_pem,
        };
        // Rebuild an owned issuer from the PEM so both construction paths agree.
        Self::from_pem(&cert.cert_pem, &cert.key_pem)
    }

    /// Loads a CA from its certificate and PKCS#8 key, both PEM.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let key = KeyPair::from_pem(key_pem).map_err(PkiError::crypto("load the CA key"))?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)
            .map_err(PkiError::crypto("load the CA certificate"))?;
        let cert_der = rustls_pki_types::pem::PemObject::from_pem_slice(cert_pem.as_bytes())
            .map(|c: rustls_pki_types::CertificateDer<'static>| c.to_vec())
            .map_err(|e| PkiError::InvalidRequest {
                field: "CA certificate",
                reason: e.to_string(),
            })?;
        Ok(Self {
            issuer,
            cert: IssuedCertificate {
                cert_pem: cert_pem.to_owned(),
                cert_der,
                key_pem: key_pem.to_owned(),
            },
        })
    }

    /// The CA's own certificate and key.
    pub fn certificate(&self) -> &IssuedCertificate {
        &self.cert
    }

    /// Signs a new certificate for `request` with a fresh key.
    pub fn issue(&self, request: &CertificateRequest) -> Result<IssuedCertificate, PkiError> {
        let key = request.algorithm.generate()?;
        let cert = request
            .to_params()?
            .signed_by(&key, &self.issuer)
            .map_err(PkiError::crypto("sign the certificate"))?;
        Ok(IssuedCertificate {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Creates a self-signed end-entity certificate (`self_signed_tls_client_auth`).
pub fn self_signed(request: &CertificateRequest) -> Result<IssuedCertificate, PkiError> {
    let key = request.algorithm.generate()?;
    let cert = request
        .to_params()?
        .self_signed(&key)
        .map_err(PkiError::crypto("self-sign the certificate"))?;
    Ok(IssuedCertificate {
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        key_pem: key.serialize_pem(),
    })
}
