//! TLS settings of a client: which CAs it trusts and which certificate it presents.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use crate::ClientError;

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
    ) -> Result<Self, ClientError> {
        let tls = |e: certbound_tls::TlsError| ClientError::Tls(e.to_string());
        let mut roots = RootCertStore::empty();
        if let Some(path) = cacert {
            for ca in certbound_tls::pem::load_certificates(path).map_err(tls)? {
                roots
                    .add(ca)
                    .map_err(|e| ClientError::Tls(format!("{}: {e}", path.display())))?;
            }
        }
        let identity = match identity {
            Some((cert, key)) => Some((
                certbound_tls::pem::load_certificates(cert).map_err(tls)?,
                certbound_tls::pem::load_private_key(key).map_err(tls)?,
            )),
            None => None,
        };
        Self::new(roots, identity)
    }

    /// From parsed material.
    pub fn new(
        roots: RootCertStore,
        identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    ) -> Result<Self, ClientError> {
        let builder = ClientConfig::builder_with_provider(certbound_tls::crypto_provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Tls(e.to_string()))?
            .with_root_certificates(roots);
        let mut config = match identity {
            Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(|e| {
                ClientError::Tls(format!("the client key does not fit the certificate: {e}"))
            })?,
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
