//! What an adversarial review of the gateway found (issue #14), through the
//! real gateway: a real AS, the echo upstream, curl as the caller.

mod common;

use certbound_core::AuthMethod;
use certbound_server::RunningServer;
use certbound_server::clients::{ClientMetadata, hash_secret};
use certbound_testkit::{TestPki, or_panic};
use common::{curl, start_as, start_gateway_policy, start_upstream, token};
use serde_json::{Value, json};

/// Registers `id` (`tls_client_auth` by `CN=id` unless `edit` changes it).
async fn register_with(
    server: &RunningServer,
    id: &str,
    secret: Option<&str>,
    edit: impl FnOnce(&mut ClientMetadata),
) {
    let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
    m.tls_client_auth_subject_dn = Some(format!("CN={id}"));
    m.scope = "read".into();
    edit(&mut m);
    or_panic(
        certbound_server::register_client(
            server.server.store.as_ref(),
            id,
            m,
            secret.map(hash_secret),
        )
        .await,
        "register client",
    );
}

fn bearer(t: &str) -> String {
    format!("Authorization: Bearer {t}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_bound_tokens_for_the_gateways_own_url_pass_by_default() {
    let pki = TestPki::new();
    let dir = or_panic(tempfile::tempdir(), "tempdir");
    let server = start_as(&pki, dir.path(), "").await;
    let upstream = start_upstream().await;
    // No audience and no require_bound_tokens in the config: the defaults.
    let gw = start_gateway_policy(&pki, dir.path(), &server.issuer, &upstream, "", "", "").await;
    let gw_url = format!("https://localhost:{}", gw.addr.port());
    let api = format!("{gw_url}/api/x");
    let for_gw = |m: &mut ClientMetadata| m.audience = Some(gw_url.clone());
    register_with(&server, "mine", None, for_gw).await;
    // Registered without an audience: its tokens carry the AS's default (the issuer).
    register_with(&server, "other", None, |_| {}).await;
    register_with(&server, "nobind", None, |m| {
        for_gw(m);
        m.tls_client_certificate_bound_access_tokens = false;
    })
    .await;
    register_with(&server, "secret", Some("s3cret-s3cret"), |m| {
        for_gw(m);
        m.token_endpoint_auth_method = AuthMethod::ClientSecretBasic.as_str().into();
        m.tls_client_auth_subject_dn = None;
    })
    .await;
    let (mine, other, nobind) = (
        pki.simple_client("mine"),
        pki.simple_client("other"),
        pki.simple_client("nobind"),
    );

    // A bound token for the gateway's own URL passes.
    let t = token(&pki, &server, &mine, "mine").await;
    let (status, seen) = curl(&pki, Some(&mine), &["-H", &bearer(&t), &api]).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["headers"]["x-certbound-client-id"], json!(["mine"]));

    // A bound token of the same AS meant for another audience: 401, though
    // no audience is configured.
    let t = token(&pki, &server, &other, "other").await;
    let (status, body) = curl(&pki, Some(&other), &["-H", &bearer(&t), &api]).await;
    assert_eq!(
        (status, &body),
        (
            401,
            &json!({"error": "invalid_token", "error_description": "the token is not meant for this resource (aud)"})
        )
    );

    // Unbound tokens: a --no-bound-tokens client (presented with and
    // without its certificate) and a client_secret client.
    let unbound = json!({
        "error": "invalid_token",
        "error_description": "the token is not certificate-bound; this resource accepts only certificate-bound tokens"
    });
    let t = token(&pki, &server, &nobind, "nobind").await;
    let claims = claims_of(&t);
    assert!(claims["cnf"].is_null(), "really unbound: {claims}");
    assert_eq!(claims["aud"], json!(gw_url));
    for who in [Some(&nobind), None] {
        let (status, body) = curl(&pki, who, &["-H", &bearer(&t), &api]).await;
        assert_eq!((status, &body), (401, &unbound));
    }
    let token_url = format!("{}/token", server.mtls_url.clone().unwrap_or_default());
    let (status, body) = curl(
        &pki,
        None,
        &[
            "-u",
            "secret:s3cret-s3cret",
            "-d",
            "grant_type=client_credentials",
            &token_url,
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let t = body["access_token"].as_str().unwrap_or_default().to_owned();
    let (status, challenge, body) =
        certbound_testkit_as::curl_with_challenge(&pki, None, &["-H", &bearer(&t), &api]).await;
    assert_eq!((status, &body), (401, &unbound));
    assert!(
        challenge.starts_with("bearer realm=\"certbound\", error=\"invalid_token\""),
        "{challenge}"
    );
    gw.stop().await;

    // The switch still exists: with it off, the same unbound token passes.
    let open = start_gateway_policy(
        &pki,
        dir.path(),
        &server.issuer,
        &upstream,
        "",
        "",
        &format!("require_bound_tokens = false\naudience = \"{gw_url}\""),
    )
    .await;
    let api = format!("https://localhost:{}/api/x", open.addr.port());
    let (status, seen) = curl(&pki, None, &["-H", &bearer(&t), &api]).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["headers"]["x-certbound-client-id"], json!(["secret"]));
    open.stop().await;
    server.stop().await;
}

/// The JWT's payload, unverified (to show what the AS issued).
fn claims_of(jwt: &str) -> Value {
    jwt.split('.')
        .nth(1)
        .and_then(|p| {
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, p).ok()
        })
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}
