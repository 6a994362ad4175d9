//! The one template per config kind. Each takes the PKI for its TLS files
//! and the test's own TOML for everything the test is about.

use crate::TestPki;

/// An authorization-server config: `storage` as the store URL, the PKI's
/// server certificate and client CA, the `listeners` sections given, no key
/// cache (so tests see key changes at once), the PKI's KEK, then `extra`.
pub fn as_toml(pki: &TestPki, storage: &str, listeners: &str, extra: &str) -> String {
    format!(
        "[storage]\nurl = \"{storage}\"\n[tls]\ncert = \"{cert}\"\nkey = \"{key}\"\nclient_ca = \"{ca}\"\n\
         {listeners}\n[keys]\ncache_seconds = 0\nkek_file = \"{kek}\"\n{extra}\n",
        kek = pki.kek_path().display(),
        cert = pki.dir().join(certbound_pki::SERVER_CERT).display(),
        key = pki.dir().join(certbound_pki::SERVER_KEY).display(),
        ca = pki.ca_path().display(),
    )
}

/// The usual AS listeners: one mTLS listener on an ephemeral loopback port.
pub const MTLS_LISTENER: &str = "[listeners.mtls]\naddr = \"127.0.0.1:0\"";

/// How the gateway's listener takes its callers.
#[derive(Debug, Clone, Copy)]
pub enum GatewayListener<'a> {
    /// mTLS with the PKI's server certificate and client CA.
    Mtls,
    /// Plain HTTP behind a proxy at `trusted` that passes the certificate in `header`.
    Proxy {
        /// The `trusted_proxies` entry.
        trusted: &'a str,
        /// The `certificate_header` value.
        header: &'a str,
    },
}

/// A gateway config: the listener on an ephemeral loopback port, an AS at
/// `issuer` trusted through the PKI's CA, then `body` (further
/// `[authorization_server]` keys first, then `[policy]`, `[upstream]`,
/// `[[routes]]`).
pub fn gateway_toml(
    pki: &TestPki,
    listener: GatewayListener<'_>,
    issuer: &str,
    body: &str,
) -> String {
    let ca = pki.ca_path();
    let listener = match listener {
        GatewayListener::Mtls => format!(
            "[listener]\nmode = \"mtls\"\naddr = \"127.0.0.1:0\"\n[tls]\ncert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"",
            pki.dir().join(certbound_pki::SERVER_CERT).display(),
            pki.dir().join(certbound_pki::SERVER_KEY).display(),
            ca.display(),
        ),
        GatewayListener::Proxy { trusted, header } => format!(
            "[listener]\nmode = \"proxy\"\naddr = \"127.0.0.1:0\"\ntrusted_proxies = [\"{trusted}\"]\ncertificate_header = \"{header}\""
        ),
    };
    format!(
        "{listener}\n[authorization_server]\nissuer = \"{issuer}\"\nca = \"{}\"\n{body}\n",
        ca.display()
    )
}
