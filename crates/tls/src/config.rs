//! rustls server configurations for the listener modes.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::ServerSessionMemoryCache;

use crate::verifier::PossessionOnlyVerifier;
use crate::{ClientCaBundle, TlsError};

/// Whether the server asks for a client certificate.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// Request one (optional); proof of possession is checked, the chain is
    /// validated against the bundle and recorded, never enforced here.
    Request(ClientCaBundle),
    /// Never ask: for browser-facing listeners, where a prompt would confuse.
    None,
}

/// Sessions kept for resumption; each holds the client chain, so resumed
/// connections keep their certificate.
const SESSION_CACHE_SIZE: usize = 4096;

/// Builds a TLS 1.2 + 1.3 server configuration with ALPN h2 and http/1.1.
pub fn server_config(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_auth: &ClientAuth,
) -> Result<Arc<ServerConfig>, TlsError> {
    let builder = ServerConfig::builder_with_provider(crate::crypto_provider())
        .with_protocol_versions(rustls::ALL_VERSIONS)?;
    let builder = match client_auth {
        ClientAuth::Request(cas) => {
            builder.with_client_cert_verifier(Arc::new(PossessionOnlyVerifier::new(cas)))
        }
        ClientAuth::None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(cert_chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE_SIZE);
    Ok(Arc::new(config))
}
