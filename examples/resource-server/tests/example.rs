//! The example's router behind a real certbound AS: the bound holder is
//! greeted, a replay with another certificate is 401, a missing scope 403.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use certbound_client::TlsSettings;
use certbound_guard::{Guard, GuardOptions};
use certbound_server::clients::TokenFormat;
use certbound_testkit::assert_error;

use certbound_testkit::server::{AsFixture, curl, register_tls_client, serve_mtls};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_resource_server_enforces_bound_tokens() {
    let (pki, server, _dir) = AsFixture::start("").await.into_parts();
    register_tls_client(&server, "client-a", "hello.read", TokenFormat::Jwt).await;
    let (a, b) = (pki.simple_client("client-a"), pki.simple_client("client-b"));

    let tls = TlsSettings::from_pem_files(Some(&pki.ca_path()), None).expect("tls");
    // Tokens of clients registered without an audience carry the AS's
    // default one, its issuer; only bound tokens are accepted by default.
    let options = GuardOptions::new(server.issuer.clone(), server.issuer.clone());
    let guard = Guard::discover(options, &tls).await.expect("guard");
    let app = certbound_example_resource_server::app(guard);
    let port = serve_mtls(&pki, app, std::future::pending()).await;

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
    assert_error(status, &body, (401, "invalid_token"));
    let (status, body) = curl(
        &pki,
        Some(&a),
        &["-H", &auth, &format!("https://localhost:{port}/admin")],
    )
    .await;
    assert_error(status, &body, (403, "insufficient_scope"));
    server.stop().await;
}
