//! Runs the example resource server on mTLS.
//!
//! ```sh
//! ISSUER=https://localhost:8443 CA=certbound-data/pki/ca.pem \
//! CERT=certbound-data/pki/server.pem KEY=certbound-data/pki/server.key \
//! LISTEN=127.0.0.1:9443 cargo run -p certbound-example-resource-server
//! ```
//!
//! `AUDIENCE` is the `aud` the authorization server puts in tokens for this
//! resource (a client's `--audience`); without it, the AS's default
//! audience, which is its issuer unless `tokens.default_audience` says otherwise.

use std::path::PathBuf;

use anyhow::Context;
use certbound_client::TlsSettings;
use certbound_guard::{Guard, GuardOptions};
use certbound_tls::{ClientAuth, ClientCaBundle, ListenerMode};

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name)
        .with_context(|| format!("set {name} (see the comment at the top of main.rs)"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (issuer, ca, cert, key) = (
        env("ISSUER")?,
        PathBuf::from(env("CA")?),
        PathBuf::from(env("CERT")?),
        PathBuf::from(env("KEY")?),
    );
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:9443".into());
    let tls = TlsSettings::from_pem_files(Some(&ca), None)?;
    let audience = std::env::var("AUDIENCE").unwrap_or_else(|_| issuer.clone());
    // Only certificate-bound tokens are accepted (the guard's default).
    let options = GuardOptions::new(issuer, audience);
    let guard = Guard::discover(options, &tls).await?;
    let cas = ClientCaBundle::from_pem_file(&ca)?;
    let config = certbound_tls::server_config(
        certbound_tls::pem::load_certificates(&cert)?,
        certbound_tls::pem::load_private_key(&key)?,
        &ClientAuth::Request(cas.clone()),
    )?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    eprintln!("resource server on https://{listen}/hello");
    certbound_tls::serve(
        listener,
        ListenerMode::MutualTls {
            config,
            client_cas: cas,
        },
        // Default timeouts and connection limits (docs/listeners.md).
        certbound_tls::ConnectionLimits::default(),
        certbound_example_resource_server::app(guard),
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    )
    .await?;
    Ok(())
}
