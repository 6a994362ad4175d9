//! A client-certificate verifier that checks proof of possession only.
//!
//! rustls verifies the CertificateVerify signature with the key in the
//! presented certificate, so a client must hold the private key. Trust in the
//! chain is decided later, per client, by the authentication method.

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

use crate::ClientCaBundle;

/// Certificates longer than this are refused in the handshake: no real
/// client sends more, and it bounds the work an attacker can cause.
const MAX_CHAIN_LEN: usize = 8;

#[derive(Debug)]
pub(crate) struct PossessionOnlyVerifier {
    algorithms: WebPkiSupportedAlgorithms,
    hints: Vec<DistinguishedName>,
}

impl PossessionOnlyVerifier {
    pub(crate) fn new(client_cas: &ClientCaBundle) -> Self {
        Self {
            algorithms: crate::crypto_provider().signature_verification_algorithms,
            hints: client_cas.subjects().to_vec(),
        }
    }
}

impl ClientCertVerifier for PossessionOnlyVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        // No certificate is a normal request: the endpoint decides what it means.
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if intermediates.len() >= MAX_CHAIN_LEN {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::BadEncoding,
            ));
        }
        // Refuse what we could not later turn into an identity, so every
        // connection that completes has a usable PeerCertificate.
        certbound_core::CertificateIdentity::from_der(end_entity)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
