//! Listener modes for tests that serve over certbound-tls (feature `tls`).

use certbound_tls::{ClientAuth, ClientCaBundle, ListenerMode};

use crate::TestPki;

/// A listener mode for mTLS with the PKI's server certificate, requesting
/// client certificates and checking them against the PKI's CA.
pub fn mtls_mode(pki: &TestPki) -> ListenerMode {
    let cas = ClientCaBundle::from_pem_file(&pki.ca_path()).expect("client CA bundle");
    let config = certbound_tls::server_config(
        pki.server_chain(),
        pki.server_key(),
        &ClientAuth::Request(cas.clone()),
    )
    .expect("server TLS config");
    ListenerMode::MutualTls {
        config,
        client_cas: cas,
    }
}
