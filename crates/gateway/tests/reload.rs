//! The gateway reloads its TLS files while running: a rotated client-CA
//! bundle decides the next caller's chain verdict, a rotated certificate is
//! what the next handshake presents.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::Path;

use certbound_core::Thumbprint;
use certbound_gateway::GatewayConfig;
use certbound_server::clients::TokenFormat;
use certbound_testkit::config::{GatewayListener, gateway_toml};
use certbound_testkit::gateway::routes;
use certbound_testkit::server::AsFixture;
use certbound_testkit::{TestIdentity, TestPki, bearer, connect_tls};
use certbound_tls::TlsFiles;
use serde_json::json;

use common::{curl, register, start_upstream, token};

/// Replaces `path` as rotation tools do: written beside it, renamed over it.
fn put(path: &Path, contents: &[u8]) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// `x5t#S256` of the certificate the gateway presents to a new connection.
async fn served(pki: &TestPki, who: &TestIdentity, addr: std::net::SocketAddr) -> String {
    let tls = connect_tls(pki, Some(who), addr).await.unwrap();
    let certs = tls.get_ref().1.peer_certificates().unwrap();
    Thumbprint::of_der(&certs[0]).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_takes_a_rotated_certificate_and_client_ca_bundle_without_a_restart() {
    let AsFixture { pki, dir, server } = AsFixture::start("").await;
    register(&server, "a", "read", TokenFormat::Jwt).await;
    let a = pki.simple_client("a");
    let auth = bearer(&token(&pki, &server, &a, "a").await);
    let upstream = start_upstream().await;

    // The gateway's own files, trusting another CA for client chains at first.
    let files = tempfile::tempdir().unwrap();
    let (cert, key, ca) = (
        files.path().join("gw.crt"),
        files.path().join("gw.key"),
        files.path().join("ca.crt"),
    );
    put(
        &cert,
        &std::fs::read(pki.dir().join(certbound_pki::SERVER_CERT)).unwrap(),
    );
    put(
        &key,
        &std::fs::read(pki.dir().join(certbound_pki::SERVER_KEY)).unwrap(),
    );
    put(&ca, &std::fs::read(TestPki::new().ca_path()).unwrap());
    let body = format!(
        "[policy]\naudience = \"{}\"\n[upstream]\nforward_client_cert = true\n{}",
        server.issuer,
        routes(&upstream)
    );
    let toml = gateway_toml(&pki, GatewayListener::Mtls, &server.issuer, &body);
    let mut config = GatewayConfig::from_toml(&toml, &dir.path().join("gateway.toml")).unwrap();
    config.tls = TlsFiles {
        cert: Some(cert.clone()),
        key: Some(key.clone()),
        client_ca: Some(ca.clone()),
        reload_interval_secs: 0,
    };
    let gw = certbound_gateway::start(config).await.unwrap();
    certbound_testkit::gateway::wait_until_ready(&gw).await;
    let url = format!("https://localhost:{}/api/x", gw.addr.port());
    let original = Thumbprint::of_der(&pki.server_chain()[0]).to_string();

    let (status, seen) = curl(&pki, Some(&a), &["-H", &auth, &url]).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(
        seen["headers"]["x-certbound-cert-chain"],
        json!(["invalid"])
    );
    assert_eq!(served(&pki, &a, gw.addr).await, original);

    let rotated = pki.server("gateway-rotated");
    put(&cert, rotated.issued.cert_pem.as_bytes());
    put(&key, rotated.issued.key_pem.as_bytes());
    put(&ca, &std::fs::read(pki.ca_path()).unwrap());
    gw.tls.reload().unwrap();

    let (status, seen) = curl(&pki, Some(&a), &["-H", &auth, &url]).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["headers"]["x-certbound-cert-chain"], json!(["valid"]));
    assert_eq!(
        served(&pki, &a, gw.addr).await,
        rotated.thumbprint().to_string()
    );
    gw.stop().await;
    server.stop().await;
}
