//! The client certificate of a connection (or of a proxied request).

use std::sync::Arc;

use certbound_core::{CertificateIdentity, IdentityError, Thumbprint};
use rustls::pki_types::CertificateDer;

use crate::{ChainStatus, ClientCaBundle};

/// How the certificate reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateSource {
    /// Presented in our own TLS handshake, with proof of possession.
    MutualTls,
    /// RFC 9440 `Client-Cert` from a trusted proxy.
    Rfc9440,
    /// nginx `$ssl_client_escaped_cert` in `X-SSL-Client-Cert` from a trusted proxy.
    NginxEscapedPem,
    /// Envoy `X-Forwarded-Client-Cert` from a trusted proxy.
    EnvoyXfcc,
}

/// A client certificate chain, its parsed identity and its chain-validation
/// result. Cheap to clone; built once per connection.
#[derive(Debug, Clone)]
pub struct PeerCertificate(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    chain: Vec<CertificateDer<'static>>,
    identity: CertificateIdentity,
    chain_status: ChainStatus,
    source: CertificateSource,
}

impl PeerCertificate {
    /// Parses the end-entity certificate (first in `chain`) and validates the
    /// chain against `client_cas`. `None` for an empty chain.
    pub fn from_chain(
        chain: Vec<CertificateDer<'static>>,
        client_cas: &ClientCaBundle,
        source: CertificateSource,
    ) -> Result<Option<Self>, IdentityError> {
        let Some(end_entity) = chain.first() else {
            return Ok(None);
        };
        let identity = CertificateIdentity::from_der(end_entity)?;
        let chain_status = client_cas.validate_known(&chain, identity.thumbprint);
        Ok(Some(Self(Arc::new(Inner {
            chain,
            identity,
            chain_status,
            source,
        }))))
    }

    /// `x5t#S256` of the end-entity certificate.
    pub fn thumbprint(&self) -> Thumbprint {
        self.0.identity.thumbprint
    }

    /// Subject, issuer, SANs and validity.
    pub fn identity(&self) -> &CertificateIdentity {
        &self.0.identity
    }

    /// The chain as presented, end-entity first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.0.chain
    }

    /// DER of the end-entity certificate.
    pub fn end_entity(&self) -> &CertificateDer<'static> {
        // `from_chain` never builds an empty chain.
        &self.0.chain[0]
    }

    /// Result of validating the chain against the client-CA bundle.
    pub fn chain_status(&self) -> &ChainStatus {
        &self.0.chain_status
    }

    /// Whether the chain validated against the client-CA bundle
    /// (`tls_client_auth` requires it; self-signed clients never have it).
    pub fn chain_validated(&self) -> bool {
        matches!(self.0.chain_status, ChainStatus::Valid)
    }

    /// Where the certificate came from.
    pub fn source(&self) -> CertificateSource {
        self.0.source
    }
}
