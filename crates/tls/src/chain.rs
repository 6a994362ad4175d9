//! Validating a client's chain against the configured client-CA bundle.
//! The result is data for the client-authentication method, never a
//! handshake failure: self-signed clients (RFC 8705 §2.2) must get through.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use certbound_core::{CertificateIdentity, Thumbprint};

use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;

use crate::TlsError;

/// Outcome of chain validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainStatus {
    /// The chain leads to a trusted CA, is within validity, is allowed for
    /// clientAuth (extendedKeyUsage, if present) and the leaf's key may sign
    /// (keyUsage, if present, includes digitalSignature).
    Valid,
    /// It does not; the reason says why (unknown issuer, expired, …).
    Invalid(String),
    /// No client-CA bundle is configured, so nothing can validate.
    NoTrustAnchors,
}

/// Why a chain whose leaf's keyUsage lacks digitalSignature is not valid.
const NO_DIGITAL_SIGNATURE: &str = "the certificate's keyUsage does not include digitalSignature, which TLS client authentication needs (RFC 5280 section 4.2.1.3)";

/// Distinct chains remembered as valid; beyond this the memory starts over.
const MAX_VALIDATED_CHAINS: usize = 4096;

/// The CAs whose certificates `tls_client_auth` accepts.
#[derive(Clone)]
pub struct ClientCaBundle {
    verifier: Option<Arc<dyn ClientCertVerifier>>,
    subjects: Vec<rustls::DistinguishedName>,
    /// Chains that validated against this bundle, so a client reconnecting
    /// with the same chain costs no second CA signature check.
    validated: Arc<ValidatedChains>,
}

/// Valid chains by the SHA-256 of their certificates' SHA-256s, each with the
/// window (Unix seconds, inclusive) in which every certificate in it is
/// within validity. Only a chain that passed full validation gets in, and
/// outside its window it is validated again, which then reports the expiry.
/// What the result depends on besides the bytes is the bundle (the cache
/// belongs to it) and the time (the window).
#[derive(Default)]
struct ValidatedChains(Mutex<HashMap<[u8; 32], (i64, i64)>>);

impl ValidatedChains {
    fn holds(&self, key: &[u8; 32], now: i64) -> bool {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(key)
            .is_some_and(|(from, until)| *from <= now && now <= *until)
    }

    fn remember(&self, key: [u8; 32], window: (i64, i64)) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_VALIDATED_CHAINS {
            map.clear();
        }
        map.insert(key, window);
    }
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
            validated: Arc::default(),
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
            validated: Arc::default(),
        })
    }

    /// Loads a PEM bundle; errors name the file.
    pub fn from_pem_file(path: &Path) -> Result<Self, TlsError> {
        Self::from_certificates(crate::pem::load_certificates(path)?).map_err(|e| match e {
            TlsError::ClientCaBundle(reason) => TlsError::Pem {
                path: path.to_owned(),
                reason: format!("client CA bundle: {reason}"),
            },
            other => other,
        })
    }

    /// How many CAs are trusted.
    pub fn len(&self) -> usize {
        self.subjects.len()
    }

    /// Whether no CA is trusted.
    pub fn is_empty(&self) -> bool {
        self.subjects.is_empty()
    }

    /// Validates an end-entity-first chain now. A chain that validated
    /// before and whose certificates are all still within validity is
    /// answered from memory.
    pub fn validate(&self, chain: &[CertificateDer<'_>]) -> ChainStatus {
        match chain.first() {
            Some(end_entity) => self.validate_known(chain, Thumbprint::of_der(end_entity)),
            None => ChainStatus::NoTrustAnchors,
        }
    }

    /// [`ClientCaBundle::validate`] for a caller that already has the
    /// end-entity certificate's thumbprint.
    pub(crate) fn validate_known(
        &self,
        chain: &[CertificateDer<'_>],
        end_entity_thumbprint: Thumbprint,
    ) -> ChainStatus {
        let (Some(verifier), Some((end_entity, intermediates))) =
            (&self.verifier, chain.split_first())
        else {
            return ChainStatus::NoTrustAnchors;
        };
        let now = UnixTime::now();
        let now_secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        let key = chain_key(end_entity_thumbprint, intermediates);
        if self.validated.holds(&key, now_secs) {
            return ChainStatus::Valid;
        }
        match verifier.verify_client_cert(end_entity, intermediates, now) {
            // webpki checks extendedKeyUsage (clientAuth if present) but not
            // the leaf's keyUsage; a key the CA did not allow to sign must not
            // authenticate a client, whatever carried the certificate here.
            Ok(_) if !certbound_core::identity::permits_digital_signature(end_entity) => {
                ChainStatus::Invalid(NO_DIGITAL_SIGNATURE.into())
            }
            Ok(_) => {
                if let Some(window) = validity_window(chain) {
                    self.validated.remember(key, window);
                }
                ChainStatus::Valid
            }
            Err(e) => ChainStatus::Invalid(e.to_string()),
        }
    }

    /// How many valid chains are remembered.
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.validated
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// CA subjects, sent as hints in the CertificateRequest.
    pub(crate) fn subjects(&self) -> &[rustls::DistinguishedName] {
        &self.subjects
    }
}

/// Identifies a chain by its exact bytes, certificate by certificate.
fn chain_key(end_entity: Thumbprint, intermediates: &[CertificateDer<'_>]) -> [u8; 32] {
    let mut digests = Vec::with_capacity((intermediates.len() + 1) * 32);
    digests.extend_from_slice(end_entity.as_bytes());
    for cert in intermediates {
        digests.extend_from_slice(Thumbprint::of_der(cert).as_bytes());
    }
    *Thumbprint::of_der(&digests).as_bytes()
}

/// When every certificate in the chain is within validity, as Unix seconds
/// (inclusive); `None` if one cannot be read or the windows do not overlap.
fn validity_window(chain: &[CertificateDer<'_>]) -> Option<(i64, i64)> {
    let mut window = (i64::MIN, i64::MAX);
    for cert in chain {
        let validity = CertificateIdentity::from_der(cert).ok()?.validity;
        window.0 = window.0.max(validity.not_before.unix_timestamp());
        window.1 = window.1.min(validity.not_after.unix_timestamp());
    }
    (window.0 <= window.1).then_some(window)
}

#[cfg(test)]
mod tests {
    use certbound_testkit::{TestPki, load_certs, request_cn};

    use super::*;

    fn key(chain: &[CertificateDer<'_>]) -> [u8; 32] {
        chain_key(Thumbprint::of_der(&chain[0]), &chain[1..])
    }

    fn bundle(pki: &TestPki) -> ClientCaBundle {
        ClientCaBundle::from_certificates(vec![pki.ca_der()])
            .unwrap_or_else(|_| ClientCaBundle::empty())
    }

    #[test]
    fn a_valid_chain_is_remembered_per_bundle_and_only_within_its_validity() {
        let pki = TestPki::new();
        let cas = bundle(&pki);
        let alice = load_certs(&pki.simple_client("alice").cert_path);
        assert_eq!(cas.validate(&alice), ChainStatus::Valid);
        assert_eq!(cas.remembered(), 1);
        assert_eq!(cas.validate(&alice), ChainStatus::Valid);
        assert_eq!(cas.remembered(), 1);

        // Another bundle knows nothing of what this one validated.
        let other = bundle(&TestPki::new());
        assert!(matches!(other.validate(&alice), ChainStatus::Invalid(_)));

        // A self-signed chain is never valid and never remembered.
        let selfie = load_certs(&pki.self_signed("selfie", request_cn("selfie")).cert_path);
        assert!(matches!(cas.validate(&selfie), ChainStatus::Invalid(_)));
        assert_eq!(cas.remembered(), 1);

        // The memory is consulted, and only inside the remembered window: the
        // same (never valid) chain planted with a window that has passed is
        // validated again, and with a current one it is taken as remembered.
        cas.validated.remember(key(&selfie), (0, 10));
        assert!(matches!(cas.validate(&selfie), ChainStatus::Invalid(_)));
        cas.validated.remember(key(&selfie), (0, i64::MAX));
        assert_eq!(cas.validate(&selfie), ChainStatus::Valid);
    }

    #[test]
    fn an_expired_chain_is_invalid_and_not_remembered() {
        let pki = TestPki::new();
        let cas = bundle(&pki);
        let now = time::OffsetDateTime::now_utc();
        let old = pki.client(
            "old",
            certbound_pki::CertificateRequest {
                common_name: Some("Old".into()),
                validity: Some((
                    now - time::Duration::days(30),
                    now - time::Duration::days(1),
                )),
                ..certbound_pki::CertificateRequest::default()
            },
        );
        let status = cas.validate(&load_certs(&old.cert_path));
        assert!(
            matches!(&status, ChainStatus::Invalid(why) if why.contains("xpired")),
            "{status:?}"
        );
        assert_eq!(cas.remembered(), 0);
        assert_eq!(
            validity_window(&load_certs(&old.cert_path))
                .map(|(_, until)| until < now.unix_timestamp()),
            Some(true)
        );
    }

    #[test]
    fn a_leaf_whose_key_usage_lacks_digital_signature_is_invalid() {
        let pki = TestPki::new();
        let cas = bundle(&pki);
        let with = |ku: Vec<certbound_pki::KeyUsagePurpose>| {
            let mut request = request_cn("ku");
            request.key_usages = Some(ku);
            load_certs(&pki.client("ku", request).cert_path)
        };
        let no_sign = with(vec![certbound_pki::KeyUsagePurpose::KeyCertSign]);
        assert_eq!(
            cas.validate(&no_sign),
            ChainStatus::Invalid(NO_DIGITAL_SIGNATURE.into())
        );
        assert_eq!(cas.remembered(), 0);
        // Without the extension, the key may be used for anything.
        assert_eq!(cas.validate(&with(Vec::new())), ChainStatus::Valid);
    }
}
