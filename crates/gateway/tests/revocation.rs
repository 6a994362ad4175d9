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

/// A gateway whose client may not read the revocation list is not ready,
/// and says why at ERROR on every attempt; granted the permission (say,
/// by a registration job that runs after both start), it serves without
/// a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_without_the_permission_waits_until_it_is_granted() {
    common::log();
    let AsFixture { pki, dir, server } = AsFixture::start("").await;
    register(&server, "a", "read", TokenFormat::Jwt).await;
    let a = pki.simple_client("a");
    // Registered, but without --may-introspect.
    let gwid = jwt_client(&server, &pki, "gateway", "").await;
    let upstream = start_upstream().await;
    let body = format!(
        "{}\n[policy]\naudience = \"{}\"\n{}",
        introspection_as(&gwid, ""),
        server.issuer,
        certbound_testkit::gateway::routes(&upstream)
    );
    let toml = gateway_toml(&pki, GatewayListener::Mtls, &server.issuer, &body);
    let config = GatewayConfig::from_toml(&toml, &dir.path().join("gateway.toml")).expect("config");
    assert_eq!(
        config.authorization_server.revocation_poll(),
        Some(15),
        "on by default"
    );
    let gw = certbound_gateway::start(config).await.expect("listening");
    let readyz = format!("https://localhost:{}/readyz", gw.addr.port());

    let issuer_field = format!("issuer={} ", server.issuer);
    let errors = common::until_logged(&[&issuer_field, " ERROR "], 2, 10).await;
    assert!(errors.len() >= 2, "retried: {errors:#?}");
    for line in &errors {
        assert!(
            line.contains("reading the revocation list as client \"gateway\" (it needs may_introspect at the authorization server)")
                && line.contains("HTTP 403"),
            "{line}"
        );
    }
    let (status, body) = curl(&pki, Some(&a), &[&readyz]).await;
    assert_eq!(status, 503, "{body}");
    assert!(!gw.is_ready());

    // The permission arrives: the next attempt succeeds.
    assert!(
        server
            .server
            .store
            .delete_client("gateway")
            .await
            .expect("delete")
    );
    register_introspecting_client(&server, "gateway").await;
    let ready = tokio::time::timeout(Duration::from_secs(20), gw.ready()).await;
    assert_eq!(ready, Ok(true));
    let (status, body) = curl(&pki, Some(&a), &[&readyz]).await;
    assert_eq!(status, 200, "{body}");
    let t = token(&pki, &server, &a, "a").await;
    let api = format!("https://localhost:{}/api/x", gw.addr.port());
    let (status, body) = curl(&pki, Some(&a), &["-H", &bearer(&t), &api]).await;
    assert_eq!(status, 200, "{body}");
    gw.stop().await;
    server.stop().await;
}
