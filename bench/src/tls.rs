//! rustls configurations for the load client and the fixed server, built
//! from PEM files with certbound-tls's loaders (errors name the file).

use std::path::Path;
use std::sync::Arc;

use certbound_tls::pem::{load_certificates, load_private_key};
use rustls::client::Resumption;
use rustls::server::{ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::error::{BenchError, Result};

/// Sessions the fixed server keeps for resumption (as certbound's listener does).
const SESSION_CACHE_SIZE: usize = 4096;

/// A root store holding every certificate in a PEM file.
fn roots(path: &Path) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in load_certificates(path)? {
        roots.add(cert).map_err(|e| BenchError::BadCa {
            path: path.to_owned(),
            reason: format!("not usable as a trust anchor: {e}"),
        })?;
    }
    Ok(roots)
}

/// A client certificate and its key, as PEM file paths.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    /// The certificate chain.
    pub cert: &'a Path,
    /// The private key.
    pub key: &'a Path,
}

/// A TLS 1.2/1.3 client trusting `cacert`, presenting `identity` if given,
/// offering only `http/1.1`. Without `resumption` every connection is a full
/// handshake (no session cache, no tickets).
pub fn client_config(
    cacert: &Path,
    identity: Option<Identity<'_>>,
    resumption: bool,
) -> Result<Arc<ClientConfig>> {
    let builder = ClientConfig::builder_with_provider(certbound_tls::crypto_provider())
        .with_protocol_versions(rustls::ALL_VERSIONS)?
        .with_root_certificates(roots(cacert)?);
    let mut config = match identity {
        Some(id) => {
            builder.with_client_auth_cert(load_certificates(id.cert)?, load_private_key(id.key)?)?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    if !resumption {
        config.resumption = Resumption::disabled();
    }
    Ok(Arc::new(config))
}

/// A TLS 1.2/1.3 server offering `http/1.1`; with `client_ca` it requires a
/// client certificate chaining to it (standard WebPKI verification).
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<Arc<ServerConfig>> {
    let provider = certbound_tls::crypto_provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(rustls::ALL_VERSIONS)?;
    let builder = match client_ca {
        Some(path) => {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots(path)?), provider)
                    .build()
                    .map_err(|e| BenchError::BadCa {
                        path: path.to_owned(),
                        reason: format!("cannot verify clients with it: {e}"),
                    })?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(load_certificates(cert)?, load_private_key(key)?)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE_SIZE);
    Ok(Arc::new(config))
}
