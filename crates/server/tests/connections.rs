//! `[listeners.limits]` and its `CERTBOUND_LISTENERS__LIMITS__*` overrides
//! reach the AS's listeners: a silent connection and a stalled `/token` body
//! are closed in time, a normal client is served meanwhile, and a client
//! address over its connection limit is refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use certbound_server::Config;
use certbound_testkit::{
    TestPki, assert_closed_unanswered, connect_tls, hold_connections, wait_closed,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// GET /jwks with `Connection: close`; the status line.
async fn jwks_status(pki: &TestPki, addr: SocketAddr) -> std::io::Result<String> {
    let mut s = connect_tls(pki, None, addr).await?;
    s.write_all(b"GET /jwks HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw);
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn listener_limits_from_file_and_environment_take_effect() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = format!(
        "[storage]\nurl = \"{}\"\n[tls]\ncert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"\n[listeners.mtls]\naddr = \"127.0.0.1:0\"\n[listeners.limits]\nheader_read_timeout_secs = 1\nmax_connections_per_ip = 3\n[keys]\nkek_file = \"{}\"\n",
        certbound_testkit::sqlite_url(dir.path()),
        pki.dir().join("server.pem").display(),
        pki.dir().join("server.key").display(),
        pki.ca_path().display(),
        pki.kek_path().display(),
    );
    let env = vec![(
        "CERTBOUND_LISTENERS__LIMITS__BODY_READ_TIMEOUT_SECS".to_owned(),
        "1".to_owned(),
    )];
    let config = Config::from_toml(&toml, &dir.path().join("certbound.toml"), env).expect("config");
    assert_eq!(config.listeners.limits.body_read_timeout_secs, 1);
    let server = certbound_server::start(config).await.expect("start");
    let addr = server
        .mtls_addr
        .unwrap_or_else(|| panic!("no mTLS listener"));

    // After the handshake, nothing: closed by the header timeout (file).
    let silent = connect_tls(&pki, None, addr).await.expect("connect");
    let silent = tokio::spawn(wait_closed(silent, Instant::now()));

    // A /token body that stops after one byte: closed by the body timeout
    // (environment) without an answer.
    let mut slow = connect_tls(&pki, None, addr).await.expect("connect");
    slow.write_all(
            b"POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ng",
        )
        .await.expect("write");
    let slow = tokio::spawn(wait_closed(slow, Instant::now()));

    // Meanwhile a normal client is served.
    assert_eq!(
        jwks_status(&pki, addr).await.expect("jwks"),
        "HTTP/1.1 200 OK"
    );
    assert_closed_unanswered(
        vec![("silent", silent), ("slow body", slow)],
        Duration::from_millis(700),
    )
    .await;

    // Three connections from 127.0.0.1 are the limit; a fourth is closed
    // during its handshake; freeing one lets a new one in.
    let mut held = hold_connections(&pki, None, addr, 3).await;
    assert!(
        jwks_status(&pki, addr).await.is_err(),
        "fourth connection served"
    );
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(status) = jwks_status(&pki, addr).await {
            assert_eq!(status, "HTTP/1.1 200 OK");
            break;
        }
        assert!(Instant::now() < deadline, "a freed slot was not reused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
