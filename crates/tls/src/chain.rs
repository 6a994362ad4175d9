//! Validating a client's chain against the configured client-CA bundle.
//! The result is data for the client-authentication method, never a
//! handshake failure: self-signed clients (RFC 8705 §2.2) must get through.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;

use crate::TlsError;

/// Outcome of chain validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainStatus {
    /// The chain leads to a trusted CA, is within validity and allowed for clientAuth.
    Valid,
    /// It does not; the reason says why (unknown issuer, expired, …).
    Invalid(String),
    /// No client-CA bundle is configured, so nothing can validate.
    NoTrustAnchors,
}

/// The CAs whose certificates `tls_client_auth` accepts.
#[derive(Clone)]
pub struct ClientCaBundle {
    verifier: Option<Arc<dyn ClientCertVerifier>>,
    subjects: Vec<rustls::DistinguishedName>,
}

impl std::fmt::Debug for ClientCaBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCaBundle")
            .field("anchors", &self.subjects.len())
            .finish()
    }
}

impl ClientCaBundle {
    /// No trusted CAs: every chain is [`ChainStatus::NoTrustAnchors`].
    pub fn empty() -> Self {
        Self {
            verifier: None,
            subjects: Vec::new(),
        }
    }

    /// Trusts the given CA certificates.
    pub fn from_certificates(cas: Vec<CertificateDer<'static>>) -> Result<Self, TlsError> {
        if cas.is_empty() {
            return Ok(Self::empty());
        }
        let mut roots = RootCertStore::empty();
        for ca in cas {
            roots
                .add(ca)
                .map_err(|e| TlsError::ClientCaBundle(format!("unusable CA certificate: {e}")))?;
        }
        let subjects = roots.subjects();
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), crate::crypto_provider())
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::ClientCaBundle(e.to_string()))?;
        Ok(Self {
            verifier: Some(verifier),
            subjects,
        })
    }

    /// Loads a PEM bundle.
    pub fn from_pem_file(path: &Path) -> Result<Self, TlsError> {
        Self::from_certificates(crate::pem::load_certificates(path)?)
    }

    /// Validates an end-entity-first chain now.
    pub fn validate(&self, chain: &[CertificateDer<'_>]) -> ChainStatus {
        let (Some(verifier), Some((end_entity, intermediates))) =
            (&self.verifier, chain.split_first())
        else {
            return ChainStatus::NoTrustAnchors;
        };
        match verifier.verify_client_cert(end_entity, intermediates, UnixTime::now()) {
            Ok(_) => ChainStatus::Valid,
            Err(e) => ChainStatus::Invalid(e.to_string()),
        }
    }

    /// CA subjects, sent as hints in the CertificateRequest.
    pub(crate) fn subjects(&self) -> &[rustls::DistinguishedName] {
        &self.subjects
    }
}
