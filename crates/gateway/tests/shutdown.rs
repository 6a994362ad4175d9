//! Graceful shutdown: once stopping begins, `/readyz` answers 503 while
//! requests are still proxied for `shutdown.delay_seconds`; then the
//! listener closes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use certbound_server::clients::TokenFormat;
use certbound_testkit::{TestPki, bearer};
use common::{curl, register, start_as, start_gateway, start_upstream, token};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_turns_503_while_requests_are_still_served_then_the_listener_closes() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start_as(&pki, dir.path(), "").await;
    register(&server, "a", "read", TokenFormat::Jwt).await;
    let a = pki.simple_client("a");
    let upstream = start_upstream().await;
    let gw = start_gateway(
        &pki,
        dir.path(),
        &server.issuer,
        &upstream,
        "[shutdown]\ndelay_seconds = 2",
    )
    .await;
    let base = format!("https://localhost:{}", gw.addr.port());
    let t = token(&pki, &server, &a, "a").await;
    let (readyz, api) = (format!("{base}/readyz"), format!("{base}/api/x"));
    assert_eq!(curl(&pki, Some(&a), &[&readyz]).await.0, 200);

    let stopping = tokio::spawn(gw.stop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = curl(&pki, Some(&a), &[&readyz]).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["reason"], "shutting down", "{body}");
    let (status, body) = curl(&pki, Some(&a), &["-H", &bearer(&t), &api]).await;
    assert_eq!(status, 200, "still proxying during the delay: {body}");
    assert!(!stopping.is_finished(), "the delay is 2 s");

    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("stopped within the delay and the drain")
        .unwrap();
    let (status, _) = curl(&pki, Some(&a), &[&readyz]).await;
    assert_eq!(status, 0, "the listener is closed");
}
