//! The gateway end to end: a real authorization server, a real upstream, the
//! gateway on mTLS in between, curl as the caller.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use certbound_testkit::bearer;
use certbound_testkit::server::AsFixture;
use certbound_testkit::server::{expired_token, rotate_key};
use certbound_testkit::{assert_error, assert_error_description};
use std::sync::Arc;
use std::time::Duration;

use certbound_core::ManualClock;

use certbound_server::clients::TokenFormat;

use common::{
    curl, introspection_as, register, start_as, start_gateway, start_gateway_clocked,
    start_upstream, token,
};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforces_binding_scopes_and_identity_headers() {
    let AsFixture { pki, dir, server } = AsFixture::start("").await;
    register(&server, "a", "read", TokenFormat::Jwt).await;
    register(&server, "b", "read", TokenFormat::Jwt).await;
    let (a, b) = (pki.simple_client("a"), pki.simple_client("b"));
    let upstream = start_upstream().await;
    let gw = start_gateway(&pki, dir.path(), &server.issuer, &upstream, "").await;
    let base = format!("https://localhost:{}", gw.addr.port());
    let ta = token(&pki, &server, &a, "a").await;
    let auth = format!("Authorization: Bearer {ta}");
    // a's request for `path` with its token.
    let a_gets =
        async |path: &str| curl(&pki, Some(&a), &["-H", &auth, &format!("{base}{path}")]).await;

    let (status, seen) = curl(
        &pki,
        Some(&a),
        &[
            "-H",
            &auth,
            "-H",
            "X-Certbound-Client-Id: admin",
            "-H",
            "x-certbound-scope: admin",
            "-X",
            "POST",
            "-d",
            "payload=1",
            &format!("{base}/api/orders?x=1"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["uri"], "/api/orders?x=1");
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["body"], "payload=1");
    assert_eq!(
        seen["headers"]["x-certbound-client-id"],
        json!(["a"]),
        "caller-supplied identity headers never reach the upstream"
    );
    assert_eq!(seen["headers"]["x-certbound-scope"], json!(["read"]));
    assert_eq!(seen["headers"]["x-certbound-subject"], json!(["a"]));
    assert_eq!(
        seen["headers"]["x-certbound-cert-thumbprint"],
        json!([a.thumbprint().to_string()])
    );
    // forward_client_cert: the upstream also gets the certificate itself (RFC 9440).
    let forwarded = seen["headers"]["client-cert"][0]
        .as_str()
        .unwrap_or_default()
        .trim_matches(':')
        .to_owned();
    let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, forwarded)
        .unwrap_or_default();
    assert_eq!(der, a.issued.cert_der, "Client-Cert carries client A's DER");

    // The check endpoint answers under its own path; a path that only shares
    // its first letters is proxied like any other (here: no route).
    let (status, body) = a_gets("/certbound/check/api/orders").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = a_gets("/certbound/checkup").await;
    assert_eq!(
        (status, &body["error"]),
        (404, &json!("not_found")),
        "{body}"
    );

    for (who, what) in [
        (Some(&b), "client B's certificate"),
        (None, "no certificate"),
    ] {
        let (status, body) = curl(&pki, who, &["-H", &auth, &format!("{base}/api/x")]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_token")),
            "{what}: {body}"
        );
    }
    let (status, body) = a_gets("/admin/x").await;
    assert_error(status, &body, (403, "insufficient_scope"));
    let (status, body) = curl(&pki, Some(&a), &[&format!("{base}/api/x")]).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = a_gets("/nowhere").await;
    assert_eq!(status, 404);
    // Routing decides on the path the upstream will see: encoded or dotted
    // ways to reach /admin are refused or judged as /admin.
    for (path, want) in [
        ("/%61dmin/x", 403),
        ("/api/../admin/x", 400),
        ("/api/%2e%2e/admin/x", 400),
        ("/api//x", 400),
    ] {
        let (status, body) = curl(
            &pki,
            Some(&a),
            &["--path-as-is", "-H", &auth, &format!("{base}{path}")],
        )
        .await;
        assert_eq!(status, want, "{path}: {body}");
    }
    let (status, seen) = a_gets("/api/%6Frders").await;
    assert_eq!(
        (status, seen["uri"].as_str()),
        (200, Some("/api/orders")),
        "the normalised path is forwarded"
    );

    // Another issuer's token (unknown key): 401.
    let other_dir = tempfile::tempdir().expect("tempdir");
    let other = start_as(&pki, other_dir.path(), "").await;
    register(&other, "a", "read", TokenFormat::Jwt).await;
    let foreign = token(&pki, &other, &a, "a").await;
    let (status, body) = curl(
        &pki,
        Some(&a),
        &["-H", &bearer(&foreign), &format!("{base}/api/x")],
    )
    .await;
    assert_error(status, &body, (401, "invalid_token"));
    // Expired (signed by the AS, bound to A, `exp` in the past): 401.
    let expired = bearer(&expired_token(&server, "a", &a).await);
    let (status, body) = curl(&pki, Some(&a), &["-H", &expired, &format!("{base}/api/x")]).await;
    assert_error_description(status, &body, (401, "the token has expired"));
    gw.stop().await;
    other.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_outage_upstream_down_and_opaque_tokens() {
    let AsFixture { pki, dir, server } = AsFixture::start("").await;
    register(&server, "a", "read", TokenFormat::Jwt).await;
    register(&server, "olive", "read", TokenFormat::Opaque).await;
    certbound_testkit::server::register_introspecting_client(&server, "gateway").await;
    let (a, olive, gwid) = (
        pki.simple_client("a"),
        pki.simple_client("olive"),
        pki.simple_client("gateway"),
    );
    let upstream = start_upstream().await;
    let extra = introspection_as(&gwid, "introspection_cache_seconds = 1");
    let clock = Arc::new(ManualClock::new());
    let gw = start_gateway_clocked(
        &pki,
        dir.path(),
        &server.issuer,
        &upstream,
        &extra,
        Arc::clone(&clock),
    )
    .await;
    let base = format!("https://localhost:{}", gw.addr.port());
    let api = format!("{base}/api/x");

    // What the gateway answers a's call to /api/x with `token`.
    let a_calls = async |token: &str| curl(&pki, Some(&a), &["-H", &bearer(token), &api]).await;
    let before = token(&pki, &server, &a, "a").await;
    assert_eq!(a_calls(&before).await.0, 200);
    rotate_key(&server).await;
    clock.advance(Duration::from_millis(1100)); // past jwks_refetch_seconds = 1
    let after = token(&pki, &server, &a, "a").await;
    let (status, body) = a_calls(&after).await;
    assert_eq!(
        status, 200,
        "new key accepted without restarting the gateway: {body}"
    );

    // Opaque token via introspection with the gateway's own identity; revoked → 401 after the cache TTL.
    let opaque = token(&pki, &server, &olive, "olive").await;
    let opaque_auth = bearer(&opaque);
    let (status, seen) = curl(&pki, Some(&olive), &["-H", &opaque_auth, &api]).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["headers"]["x-certbound-client-id"], json!(["olive"]));
    let revoke = format!("{}/revoke", server.mtls_url.clone().unwrap_or_default());
    assert_eq!(
        curl(
            &pki,
            Some(&olive),
            &["-d", &format!("client_id=olive&token={opaque}"), &revoke]
        )
        .await
        .0,
        200
    );
    clock.advance(Duration::from_millis(1100)); // past introspection_cache_seconds = 1
    let (status, body) = curl(&pki, Some(&olive), &["-H", &opaque_auth, &api]).await;
    assert_error(status, &body, (401, "invalid_token"));

    // The AS goes down: cached keys keep validating.
    server.stop().await;
    assert_eq!(a_calls(&after).await.0, 200);
    gw.stop().await;

    // Upstream down: 502 with a clear body.
    let dir2 = tempfile::tempdir().expect("tempdir");
    let server2 = start_as(&pki, dir2.path(), "").await;
    register(&server2, "a", "read", TokenFormat::Jwt).await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let gw2 = start_gateway(&pki, dir2.path(), &server2.issuer, &dead, "").await;
    let t = token(&pki, &server2, &a, "a").await;
    let (status, body) = curl(
        &pki,
        Some(&a),
        &[
            "-H",
            &bearer(&t),
            &format!("https://localhost:{}/api/x", gw2.addr.port()),
        ],
    )
    .await;
    assert_error(status, &body, (502, "bad_gateway"));
    gw2.stop().await;
    server2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_certificate_says_whether_its_chain_validated() {
    use certbound_core::AuthMethod;
    use certbound_server::clients::ClientMetadata;

    let AsFixture { pki, dir, server } = AsFixture::start("").await;
    register(&server, "a", "read", TokenFormat::Jwt).await;
    let selfie = pki.self_signed("selfie", certbound_testkit::request_cn("selfie"));
    let mut m = ClientMetadata::new(AuthMethod::SelfSignedTlsClientAuth);
    m.jwks = Some(ClientMetadata::jwks_from_certificates(
        std::slice::from_ref(&selfie.issued.cert_der),
    ));
    m.scope = "read".into();
    certbound_server::register_client(server.server.store.as_ref(), "selfie", m, None)
        .await
        .expect("register selfie");
    let a = pki.simple_client("a");
    let upstream = start_upstream().await;
    let gw = start_gateway(&pki, dir.path(), &server.issuer, &upstream, "").await;
    let url = format!("https://localhost:{}/api/x", gw.addr.port());

    for (who, id, want) in [(&a, "a", "valid"), (&selfie, "selfie", "invalid")] {
        let auth = format!(
            "Authorization: Bearer {}",
            token(&pki, &server, who, id).await
        );
        // The caller claims a valid chain, in two spellings; only the
        // gateway's own verdict reaches the upstream.
        let (status, seen) = curl(
            &pki,
            Some(who),
            &[
                "-H",
                &auth,
                "-H",
                "X-Certbound-Cert-Chain: valid",
                "-H",
                "x-certbound-cert-chain: valid",
                &url,
            ],
        )
        .await;
        assert_eq!(status, 200, "{id}: {seen}");
        assert_eq!(
            seen["headers"]["x-certbound-cert-chain"],
            json!([want]),
            "{id}: {seen}"
        );
        assert_eq!(
            seen["headers"]["client-cert"][0]
                .as_str()
                .map(|v| v.trim_matches(':').to_owned()),
            Some(base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                &who.issued.cert_der
            )),
            "{id}: the verdict travels with the certificate it is about"
        );
    }
    gw.stop().await;
    server.stop().await;
}
