//! Revocation at a gateway that verifies JWTs locally (`validation = "jwt"`):
//! it follows the AS's revocation list, so a revoked token is refused within
//! `revocation_poll_seconds` while verification stays local.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use certbound_testkit::assert_described_error;
use certbound_testkit::bearer;
use certbound_testkit::config::{GatewayListener, gateway_toml};
use certbound_testkit::server::{AsFixture, jwt_client};
use std::time::Duration;

use certbound_gateway::GatewayConfig;
use certbound_server::clients::TokenFormat;

use certbound_testkit::server::register_introspecting_client;
use common::{curl, introspection_as, register, start_gateway, start_upstream, token};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_jwt_is_refused_within_the_poll_interval() {
    let AsFixture { pki, dir, server } = AsFixture::start("").await;
    register(&server, "a", "read", TokenFormat::Jwt).await;
    register_introspecting_client(&server, "gateway").await;
    let (a, gwid) = (pki.simple_client("a"), pki.simple_client("gateway"));
    let upstream = start_upstream().await;
    let extra = introspection_as(&gwid, "validation = \"jwt\"\nrevocation_poll_seconds = 1");
    let gw = start_gateway(&pki, dir.path(), &server.issuer, &upstream, &extra).await;
    let api = format!("https://localhost:{}/api/x", gw.addr.port());

    let revoked = token(&pki, &server, &a, "a").await;
    let kept = token(&pki, &server, &a, "a").await;
    // Twice each: the second request is a verified-token cache hit.
    for t in [&revoked, &kept, &revoked, &kept] {
        let (status, body) = curl(&pki, Some(&a), &["-H", &bearer(t), &api]).await;
        assert_eq!(status, 200, "{body}");
    }

    let revoke = format!("{}/revoke", server.mtls_url.clone().unwrap_or_default());
    let (status, body) = curl(
        &pki,
        Some(&a),
        &["-d", &format!("client_id=a&token={revoked}"), &revoke],
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Refused within the 1 s interval (bounded wait: a few polls at most).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(4);
    let (status, body) = loop {
        let (status, body) = curl(&pki, Some(&a), &["-H", &bearer(&revoked), &api]).await;
        if status != 200 || tokio::time::Instant::now() >= deadline {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_described_error(
        status,
        &body,
        (401, "invalid_token", "the token has been revoked"),
        "",
    );
    // The client's other token is untouched.
    let (status, body) = curl(&pki, Some(&a), &["-H", &bearer(&kept), &api]).await;
    assert_eq!(status, 200, "{body}");
    gw.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_without_the_permission_does_not_start() {
    let AsFixture { pki, dir, server } = AsFixture::start("").await;
    // Registered, but without --may-introspect.
    let gwid = jwt_client(&server, &pki, "gateway", "").await;
    let toml = gateway_toml(
        &pki,
        GatewayListener::Mtls,
        &server.issuer,
        &introspection_as(&gwid, ""),
    );
    let config = GatewayConfig::from_toml(&toml, &dir.path().join("gateway.toml")).expect("config");
    assert_eq!(
        config.authorization_server.revocation_poll(),
        Some(15),
        "on by default"
    );
    match certbound_gateway::start(config).await {
        Err(e) => {
            let why = e.to_string();
            assert!(
                why.contains("reading the revocation list as client \"gateway\" (it needs may_introspect at the authorization server)")
                    && why.contains("HTTP 403"),
                "{why}"
            );
        }
        Ok(_) => panic!("a gateway that may not read the revocation list started"),
    }
    server.stop().await;
}
