//! The client side of "where a certificate comes from": which CAs an outbound
//! connection trusts and which certificate it presents. The SDK, the guard
//! and the gateway's upstream connections all build their rustls client
//! configuration here, so none of them needs another's crate for it.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use crate::TlsError;

/// Trust anchors and optional client identity, as a rustls configuration.
#[derive(Clone)]
pub struct TlsSettings {
    config: Arc<ClientConfig>,
}

impl TlsSettings {
    /// From PEM files: `cacert` (or the platform-independent empty store if
    /// `None`, so only an explicit CA is trusted) and an optional cert/key pair.
    pub fn from_pem_files(
        cacert: Option<&Path>,
        identity: Option<(&Path, &Path)>,
    ) -> Result<Self, TlsError> {
        let mut roots = RootCertStore::empty();
        if let Some(path) = cacert {
            for ca in crate::pem::load_certificates(path)? {
                roots.add(ca).map_err(|e| TlsError::Pem {
                    path: path.to_owned(),
                    reason: format!("not a usable CA certificate: {e}"),
                })?;
            }
        }
        let Some((cert, key)) = identity else {
            return Self::new(roots, None);
        };
        let chain = crate::pem::load_certificates(cert)?;
        let private_key = crate::pem::load_private_key(key)?;
        // The one way this fails with files that parsed is a key that
        // belongs to another certificate: name both files.
        Self::new(roots, Some((chain, private_key))).map_err(|e| match e {
            TlsError::Rustls(e) => TlsError::Pem {
                path: key.to_owned(),
                reason: format!(
                    "the client key does not fit the certificate {}: {e}",
                    cert.display()
                ),
            },
            other => other,
        })
    }

    /// From parsed material.
    pub fn new(
        roots: RootCertStore,
        identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    ) -> Result<Self, TlsError> {
        let builder = ClientConfig::builder_with_provider(crate::crypto_provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
        let mut config = match identity {
            Some((chain, key)) => builder.with_client_auth_cert(chain, key)?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            config: Arc::new(config),
        })
    }

    /// The rustls configuration.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.config)
    }

    /// Whether a client certificate is configured.
    pub fn has_identity(&self) -> bool {
        self.config.client_auth_cert_resolver.has_certs()
    }
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("has_identity", &self.has_identity())
            .finish_non_exhaustive()
    }
}

/// An error with its whole cause chain, joined by `": "`: HTTP clients'
/// own messages hide the cause (a TLS alert, a refused connection) that
/// says what to fix.
pub fn describe_error_chain(e: &dyn std::error::Error) -> String {
    let mut reason = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        source = s.source();
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_chain_names_every_cause() {
        let e = Outer(std::io::Error::other("connection refused"));
        assert_eq!(describe_error_chain(&e), "outer: connection refused");
    }

    #[test]
    fn no_files_means_no_identity_and_no_roots() {
        match TlsSettings::from_pem_files(None, None) {
            Ok(tls) => assert!(!tls.has_identity()),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let path = Path::new("/nonexistent/ca.pem");
        match TlsSettings::from_pem_files(Some(path), None) {
            Err(TlsError::Pem { path: named, .. }) => assert_eq!(named, path),
            other => panic!("expected Pem, got {other:?}"),
        }
    }
}
