//! Raw TLS connections for tests that watch how a listener treats a
//! connection (timeouts, limits) rather than what it answers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;

use crate::{TestIdentity, TestPki, client_config};

/// A TLS connection to `localhost` at `addr` trusting the PKI's CA,
/// presenting `who`'s certificate when given.
pub async fn connect_tls(
    pki: &TestPki,
    who: Option<&TestIdentity>,
    addr: SocketAddr,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name =
        rustls::pki_types::ServerName::try_from("localhost").map_err(std::io::Error::other)?;
    tokio_rustls::TlsConnector::from(Arc::new(client_config(pki.ca_der(), who)))
        .connect(name, tcp)
        .await
}

/// A spawned [`wait_closed`]: when the peer closed and what it sent.
pub type ClosedWatch = tokio::task::JoinHandle<(Duration, Vec<u8>)>;

/// Reads until the peer closes, at most 3 s after `since`: how long after
/// `since` it closed and what it sent before. Panics if it stays open.
pub async fn wait_closed(mut s: TlsStream<TcpStream>, since: Instant) -> (Duration, Vec<u8>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout_at(since + Duration::from_secs(3), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "connection still open 3 s after it went quiet"
    );
    (since.elapsed(), got)
}

/// Awaits each named [`wait_closed`] task and checks the peer closed it
/// without answering, and not before `min` had passed.
pub async fn assert_closed_unanswered(tasks: Vec<(&str, ClosedWatch)>, min: Duration) {
    for (name, task) in tasks {
        let (lived, got) = task.await.expect("join");
        assert!(lived >= min, "{name}: closed after {lived:?}");
        assert!(
            got.is_empty(),
            "{name}: answered {:?}",
            String::from_utf8_lossy(&got)
        );
    }
}

/// `n` established TLS connections to `addr`, open until dropped: fills a
/// per-address connection limit.
pub async fn hold_connections(
    pki: &TestPki,
    who: Option<&TestIdentity>,
    addr: SocketAddr,
    n: usize,
) -> Vec<TlsStream<TcpStream>> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(connect_tls(pki, who, addr).await.expect("connect"));
    }
    held
}
