//! The example's router behind a real certbound AS: the bound holder is
//! greeted, a replay with another certificate is 401, a missing scope 403.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use certbound_client::TlsSettings;
use certbound_guard::{Guard, GuardOptions};
use certbound_server::clients::TokenFormat;
use certbound_testkit::TestPki;
use certbound_testkit::server::{curl, register_tls_client, start_as};
use certbound_tls::{ClientAuth, ClientCaBundle, ListenerMode};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_resource_server_enforces_bound_tokens() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_as(&pki, dir.path(), "").await;
    register_tls_client(&server, "client-a", "hello.read", TokenFormat::Jwt).await;
    let (a, b) = (pki.simple_client("client-a"), pki.simple_client("client-b"));

    let tls = TlsSettings::from_pem_files(Some(&pki.ca_path()), None).expect("tls");
    // Tokens of clients registered without an audience carry the AS's
    // default one, its issuer; only bound tokens are accepted by default.
    let options = GuardOptions::new(server.issuer.clone(), server.issuer.clone());
    let guard = Guard::discover(options, &tls).await.expect("guard");
    let cas = ClientCaBundle::from_pem_file(&pki.ca_path()).expect("CA");
    let config = certbound_tls::server_config(
        pki.server_chain(),
        pki.server_key(),
        &ClientAuth::Request(cas.clone()),
    )
    .expect("tls config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(certbound_tls::serve(
        listener,
        ListenerMode::MutualTls {
            config,
            client_cas: cas,
        },
        certbound_tls::ConnectionLimits::default(),
        certbound_example_resource_server::app(guard),
        std::future::pending(),
    ));

    let token_url = format!("{}/token", server.mtls_url.clone().unwrap_or_default());
    let (status, body) = curl(
        &pki,
        Some(&a),
        &[
            "-d",
            "grant_type=client_credentials&client_id=client-a",
            &token_url,
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let auth = format!(
        "Authorization: Bearer {}",
        body["access_token"].as_str().unwrap_or_default()
    );
    let hello = format!("https://localhost:{port}/hello");

    let (status, body) = curl(&pki, Some(&a), &["-H", &auth, &hello]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "hello client-a");
    assert_eq!(body["bound_to"], Value::from(a.thumbprint().to_string()));
    let (status, body) = curl(&pki, Some(&b), &["-H", &auth, &hello]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token")),
        "{body}"
    );
    let (status, body) = curl(
        &pki,
        Some(&a),
        &["-H", &auth, &format!("https://localhost:{port}/admin")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope")),
        "{body}"
    );
    server.stop().await;
}
