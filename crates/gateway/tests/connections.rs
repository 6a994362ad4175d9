//! `[listener.limits]` reaches the gateway's listener: a silent connection
//! and a request body that stalls on its way to the upstream are closed in
//! time while a normal call is served, and a client address over its
//! connection limit is refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use certbound_testkit::server::{AsFixture, jwt_client};
use std::net::SocketAddr;
use std::time::Duration;

use certbound_testkit::{
    TestIdentity, TestPki, assert_closed_unanswered, connect_tls, hold_connections, wait_closed,
};
use common::{curl, start_gateway, start_upstream, token};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

/// A normal call with curl: POST /api/orders; the status (0 if refused).
async fn call(pki: &TestPki, who: &TestIdentity, addr: SocketAddr, token: &str) -> u16 {
    let auth = format!("Authorization: Bearer {token}");
    let url = format!("https://localhost:{}/api/orders", addr.port());
    let (status, seen) = curl(pki, Some(who), &["-H", &auth, "-d", "ok", &url]).await;
    if status == 200 {
        assert_eq!(seen["body"], "ok");
    }
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_limits_take_effect() {
    let AsFixture { pki, dir, server } = AsFixture::start("").await;
    let a = jwt_client(&server, &pki, "a", "read").await;
    let upstream = start_upstream().await;
    let gw = start_gateway(
        &pki,
        dir.path(),
        &server.issuer,
        &upstream,
        "[listener.limits]\nheader_read_timeout_secs = 1\nbody_read_timeout_secs = 1\nmax_connections_per_ip = 3\n",
    )
    .await;
    let ta = token(&pki, &server, &a, "a").await;
    assert_eq!(call(&pki, &a, gw.addr, &ta).await, 200);

    let silent = connect_tls(&pki, Some(&a), gw.addr).await.expect("connect");
    let silent = tokio::spawn(wait_closed(silent, Instant::now()));
    // Authorised, so the body streams to the upstream, which waits for the
    // rest (the upstream timeout is 5 s): the gateway closes first.
    let mut slow = connect_tls(&pki, Some(&a), gw.addr).await.expect("connect");
    slow.write_all(
            format!(
                "POST /api/orders HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {ta}\r\nContent-Length: 100\r\n\r\nx"
            )
            .as_bytes(),
        )
        .await.expect("write");
    let slow = tokio::spawn(wait_closed(slow, Instant::now()));
    assert_eq!(call(&pki, &a, gw.addr, &ta).await, 200);
    assert_closed_unanswered(
        vec![("silent", silent), ("slow body", slow)],
        Duration::from_millis(700),
    )
    .await;

    let mut held = hold_connections(&pki, Some(&a), gw.addr, 3).await;
    assert_eq!(
        call(&pki, &a, gw.addr, &ta).await,
        0,
        "fourth connection served"
    );
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if call(&pki, &a, gw.addr, &ta).await == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "a freed slot was not reused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
