//! Connections that stall in any phase are closed in time, and listeners
//! limit their connections, while a normal client is still served. Real
//! sockets on loopback, real TLS; timeouts are configured short (1–2 s).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use certbound_testkit::{TestPki, client_config};
use certbound_tls::{CertificateHeader, ConnectionLimits};
use common::{BIG_RESPONSE, mtls_mode, proxy_mode, rustls_get, start_limited};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;

/// Connections opened per kind: enough to show a class, bounded for CI.
const N: usize = 20;
/// Slack on top of a configured timeout for scheduling on a busy host.
const MARGIN: Duration = Duration::from_secs(2);
/// A timer cannot fire early; the client starts its clock a little after
/// the server, so allow this much before the configured timeout.
const EARLY: Duration = Duration::from_millis(300);

/// Every timeout long (30 s) and limits high except what `f` sets, so a
/// test shows that one key takes effect.
fn limits(f: impl FnOnce(&mut ConnectionLimits)) -> ConnectionLimits {
    let mut l = ConnectionLimits {
        handshake_timeout_secs: 30,
        header_read_timeout_secs: 30,
        idle_timeout_secs: 30,
        body_read_timeout_secs: 30,
        send_timeout_secs: 30,
        http2_keep_alive_interval_secs: 0,
        ..ConnectionLimits::default()
    };
    f(&mut l);
    l
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn tls_config(pki: &TestPki, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut c = client_config(pki.ca_der(), None);
    c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(c)
}

async fn tls_connect(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    tls_over(tcp, config).await
}

async fn tls_over(tcp: TcpStream, config: Arc<rustls::ClientConfig>) -> TlsStream<TcpStream> {
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("server name");
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .expect("TLS handshake")
}

/// Connects from a chosen loopback address (127.0.0.0/8 all reach us).
async fn tcp_from(local: &str, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{local}:0").parse().expect("local addr"))?;
    socket.connect(addr).await
}

/// Reads until the server closes (EOF or error); panics if it is still
/// open at `since + within`. Returns how long after `since` it closed.
async fn closed_within<S: AsyncRead + Unpin>(
    mut stream: S,
    since: Instant,
    within: Duration,
) -> Duration {
    let mut buf = vec![0u8; 64 * 1024];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    match tokio::time::timeout_at(since + within, read_all).await {
        Ok(()) => since.elapsed(),
        Err(_) => panic!("connection still open {within:?} after it went quiet"),
    }
}

/// Waits for every task; each returns how long its connection lived after
/// going quiet, which must not be before `timeout` (minus clock skew).
async fn all_closed(mut tasks: JoinSet<Duration>, timeout: Duration) {
    let mut n = 0;
    while let Some(done) = tasks.join_next().await {
        let lived = done.expect("closing task");
        assert!(
            lived + EARLY >= timeout,
            "closed after {lived:?}, before the {timeout:?} timeout"
        );
        n += 1;
    }
    assert!(n > 0);
}

/// A normal client is served while the stalled connections are open.
async fn normal_client_served(pki: &TestPki, addr: SocketAddr) {
    let (body, _) = rustls_get(addr, Arc::new(client_config(pki.ca_der(), None)))
        .await
        .expect("normal client");
    assert!(body.get("tls_version").is_some(), "{body}");
}

/// Reads one HTTP/1.1 response (headers and a Content-Length body).
async fn read_response<S: AsyncRead + Unpin>(s: &mut S) -> String {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut byte).await.expect("read response head");
        assert_eq!(
            n,
            1,
            "closed mid-response: {:?}",
            String::from_utf8_lossy(&raw)
        );
        raw.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&raw).into_owned();
    let len = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.expect("read body");
    format!("{head}{}", String::from_utf8_lossy(&body))
}

async fn get_keep_alive<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> String {
    s.write_all(b"GET /whoami HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write request");
    let res = read_response(s).await;
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    res
}

#[tokio::test]
async fn tcp_connections_that_never_handshake_are_closed() {
    let pki = TestPki::new();
    let server = start_limited(mtls_mode(&pki), limits(|l| l.handshake_timeout_secs = 1)).await;
    let mut tasks = JoinSet::new();
    let since = Instant::now();
    for i in 0..N {
        let mut tcp = TcpStream::connect(server.addr).await.expect("connect");
        if i % 2 == 1 {
            // Half start a ClientHello and stop.
            tcp.write_all(&[0x16, 0x03, 0x01, 0x00, 0xc8])
                .await
                .expect("write");
        }
        tasks.spawn(closed_within(tcp, since, secs(1) + MARGIN));
    }
    normal_client_served(&pki, server.addr).await;
    all_closed(tasks, secs(1)).await;
}

#[tokio::test]
async fn tls_connections_that_send_nothing_are_closed() {
    let pki = TestPki::new();
    let server = start_limited(mtls_mode(&pki), limits(|l| l.header_read_timeout_secs = 1)).await;
    let mut tasks = JoinSet::new();
    for i in 0..N {
        // No certificate needed; with ALPN h2 too, so protocol detection
        // is not what keeps the connection.
        let alpn: &[&[u8]] = if i % 2 == 0 { &[] } else { &[b"h2"] };
        let tls = tls_connect(server.addr, tls_config(&pki, alpn)).await;
        tasks.spawn(closed_within(tls, Instant::now(), secs(1) + MARGIN));
    }
    normal_client_served(&pki, server.addr).await;
    all_closed(tasks, secs(1)).await;
}

#[tokio::test]
async fn plain_connections_stuck_in_protocol_detection_are_closed() {
    let pki = TestPki::new();
    let server = start_limited(
        proxy_mode(&pki, &["127.0.0.1"], CertificateHeader::Nginx),
        limits(|l| l.header_read_timeout_secs = 1),
    )
    .await;
    let mut tasks = JoinSet::new();
    for i in 0..N {
        let mut tcp = TcpStream::connect(server.addr).await.expect("connect");
        let since = Instant::now();
        // Nothing; half an HTTP/2 preface; half a request line.
        let partial: &[u8] = match i % 3 {
            0 => b"",
            1 => b"PRI * HTTP/2.0\r\n",
            _ => b"GET /whoa",
        };
        tcp.write_all(partial).await.expect("write");
        tasks.spawn(closed_within(tcp, since, secs(1) + MARGIN));
    }
    let mut normal = TcpStream::connect(server.addr).await.expect("connect");
    get_keep_alive(&mut normal).await;
    all_closed(tasks, secs(1)).await;
}

#[tokio::test]
async fn idle_http1_keep_alive_connections_are_closed() {
    let pki = TestPki::new();
    // A shorter header timeout must not cut keep-alive idleness short
    // (hyper's own header timer would: it starts when a response ends).
    let server = start_limited(
        mtls_mode(&pki),
        limits(|l| {
            l.idle_timeout_secs = 2;
            l.header_read_timeout_secs = 1;
        }),
    )
    .await;
    let mut tasks = JoinSet::new();
    for _ in 0..N {
        let mut tls = tls_connect(server.addr, tls_config(&pki, &[b"http/1.1"])).await;
        get_keep_alive(&mut tls).await;
        tasks.spawn(closed_within(tls, Instant::now(), secs(2) + MARGIN));
    }
    normal_client_served(&pki, server.addr).await;
    all_closed(tasks, secs(2)).await;
}

#[tokio::test]
async fn slow_http1_request_heads_are_closed() {
    let pki = TestPki::new();
    // Idle stays long: a head that has started is timed by the header timeout.
    let server = start_limited(mtls_mode(&pki), limits(|l| l.header_read_timeout_secs = 1)).await;
    let mut tasks = JoinSet::new();
    for i in 0..N {
        let mut tls = tls_connect(server.addr, tls_config(&pki, &[b"http/1.1"])).await;
        if i % 2 == 0 {
            // The second request on a keep-alive connection trickles in.
            get_keep_alive(&mut tls).await;
        }
        let since = Instant::now();
        let (reader, mut writer) = tokio::io::split(tls);
        tokio::spawn(async move {
            if writer
                .write_all(b"GET /whoami HTTP/1.1\r\nHost: localhost\r\n")
                .await
                .is_err()
            {
                return;
            }
            // A header line every 300 ms: always some progress, never done.
            while writer.write_all(b"X-Slow: 1\r\n").await.is_ok() {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        });
        tasks.spawn(closed_within(reader, since, secs(1) + MARGIN));
    }
    normal_client_served(&pki, server.addr).await;
    all_closed(tasks, secs(1)).await;
}

/// An HTTP/2 client over TLS; the returned task ends when the server closes.
async fn h2_connect(
    pki: &TestPki,
    addr: SocketAddr,
) -> (
    h2::client::SendRequest<Bytes>,
    Option<h2::PingPong>,
    tokio::task::JoinHandle<()>,
) {
    let tls = tls_connect(addr, tls_config(pki, &[b"h2"])).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (send, mut conn) = h2::client::handshake(tls).await.expect("h2 handshake");
    let ping = conn.ping_pong();
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    (send, ping, task)
}

async fn h2_get(send: &mut h2::client::SendRequest<Bytes>) {
    let req = http::Request::get("https://localhost/whoami")
        .body(())
        .expect("request");
    let (res, _) = send.send_request(req, true).expect("send request");
    let res = res.await.expect("response");
    assert_eq!(res.status(), 200);
    let mut body = res.into_body();
    while let Some(chunk) = body.data().await {
        chunk.expect("body");
    }
}

#[tokio::test]
async fn idle_http2_connections_are_closed_even_when_they_answer_pings() {
    let pki = TestPki::new();
    // The server PINGs every second and the clients answer (and PING
    // back): liveness is not activity.
    let server = start_limited(
        mtls_mode(&pki),
        limits(|l| {
            l.idle_timeout_secs = 2;
            l.http2_keep_alive_interval_secs = 1;
            l.http2_keep_alive_timeout_secs = 5;
        }),
    )
    .await;
    let mut tasks = JoinSet::new();
    for _ in 0..N {
        let (mut send, ping, conn) = h2_connect(&pki, server.addr).await;
        h2_get(&mut send).await;
        let since = Instant::now();
        tasks.spawn(async move {
            let _keep = send;
            let pinger = ping.map(|mut ping| {
                tokio::spawn(async move {
                    while ping.ping(h2::Ping::opaque()).await.is_ok() {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                })
            });
            let closed = tokio::time::timeout_at(since + secs(2) + MARGIN, conn).await;
            if let Some(p) = pinger {
                p.abort();
            }
            assert!(closed.is_ok(), "idle HTTP/2 connection still open");
            since.elapsed()
        });
    }
    normal_client_served(&pki, server.addr).await;
    all_closed(tasks, secs(2)).await;
}

#[tokio::test]
async fn http2_streams_that_never_send_their_body_are_closed() {
    let pki = TestPki::new();
    let server = start_limited(mtls_mode(&pki), limits(|l| l.body_read_timeout_secs = 1)).await;
    let mut tasks = JoinSet::new();
    for _ in 0..N {
        let (mut send, _, conn) = h2_connect(&pki, server.addr).await;
        let req = http::Request::post("https://localhost/echo")
            .header("content-length", "10")
            .body(())
            .expect("request");
        // Headers without END_STREAM, then no DATA frame at all.
        let (res, stream) = send.send_request(req, false).expect("send request");
        let since = Instant::now();
        tasks.spawn(async move {
            let _keep = (send, stream, res);
            let closed = tokio::time::timeout_at(since + secs(1) + MARGIN, conn).await;
            assert!(
                closed.is_ok(),
                "HTTP/2 connection with a stalled body still open"
            );
            since.elapsed()
        });
    }
    normal_client_served(&pki, server.addr).await;
    all_closed(tasks, secs(1)).await;
}

#[tokio::test]
async fn slow_http1_request_bodies_are_closed_but_steady_ones_finish() {
    let pki = TestPki::new();
    let server = start_limited(mtls_mode(&pki), limits(|l| l.body_read_timeout_secs = 1)).await;
    let mut tasks = JoinSet::new();
    for _ in 0..N {
        let tls = tls_connect(server.addr, tls_config(&pki, &[b"http/1.1"])).await;
        let (reader, mut writer) = tokio::io::split(tls);
        writer
            .write_all(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nx")
            .await
            .expect("write");
        let since = Instant::now();
        // One byte every 3 s: each gap is longer than the 1 s timeout.
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(secs(3)).await;
                if writer.write_all(b"x").await.is_err() {
                    return;
                }
            }
        });
        tasks.spawn(closed_within(reader, since, secs(1) + MARGIN));
    }
    // The timeout is between reads, not for the whole body: ten bytes
    // 300 ms apart take 3 s and are answered.
    let mut steady = tls_connect(server.addr, tls_config(&pki, &[b"http/1.1"])).await;
    steady
        .write_all(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n")
        .await
        .expect("write");
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        steady.write_all(b"y").await.expect("write body byte");
    }
    let res = read_response(&mut steady).await;
    assert!(
        res.starts_with("HTTP/1.1 200") && res.ends_with("\r\n\r\n10"),
        "{res}"
    );
    normal_client_served(&pki, server.addr).await;
    all_closed(tasks, secs(1)).await;
}

#[tokio::test]
async fn responses_the_client_never_reads_are_cut_off() {
    let pki = TestPki::new();
    let server = start_limited(mtls_mode(&pki), limits(|l| l.send_timeout_secs = 1)).await;
    let mut conns = Vec::new();
    for _ in 0..4 {
        let mut tls = tls_connect(server.addr, tls_config(&pki, &[b"http/1.1"])).await;
        tls.write_all(b"GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .expect("write");
        conns.push(tls);
    }
    normal_client_served(&pki, server.addr).await;
    // Not reading: the server's writes wait, then time out.
    tokio::time::sleep(secs(1) + MARGIN).await;
    for mut tls in conns {
        let mut got = Vec::new();
        let read = tokio::time::timeout(secs(5), tls.read_to_end(&mut got)).await;
        assert!(read.is_ok(), "connection still open after the send timeout");
        assert!(
            got.len() < BIG_RESPONSE,
            "the whole {} bytes were delivered",
            got.len()
        );
    }
}

/// Whether a connection from `local` is served (a TLS request succeeds)
/// or refused (closed during the handshake).
async fn tls_served_from(pki: &TestPki, local: &str, addr: SocketAddr) -> bool {
    let Ok(tcp) = tcp_from(local, addr).await else {
        return false;
    };
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("server name");
    let connect =
        tokio_rustls::TlsConnector::from(tls_config(pki, &[b"http/1.1"])).connect(name, tcp);
    match tokio::time::timeout(secs(5), connect).await {
        Ok(Ok(mut tls)) => {
            tls.write_all(b"GET /whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .await
                .is_ok()
                && {
                    let mut raw = Vec::new();
                    let _ = tls.read_to_end(&mut raw).await;
                    raw.starts_with(b"HTTP/1.1 200")
                }
        }
        Ok(Err(_)) => false,
        Err(_) => panic!("over the limit, a connection must be closed, not left waiting"),
    }
}

/// Retries until a connection from `local` is served (the server notices a
/// closed connection shortly after the client closes it).
async fn served_soon(pki: &TestPki, local: &str, addr: SocketAddr) {
    let deadline = Instant::now() + secs(5);
    while !tls_served_from(pki, local, addr).await {
        assert!(Instant::now() < deadline, "a freed slot was not reused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn listener_refuses_connections_over_max_connections() {
    let pki = TestPki::new();
    let server = start_limited(
        mtls_mode(&pki),
        limits(|l| {
            l.max_connections = 5;
            l.max_connections_per_ip = 5;
        }),
    )
    .await;
    let mut held = Vec::new();
    for _ in 0..5 {
        let mut tls = tls_connect(server.addr, tls_config(&pki, &[b"http/1.1"])).await;
        get_keep_alive(&mut tls).await;
        held.push(tls);
    }
    // The limit is per listener, not per address.
    assert!(!tls_served_from(&pki, "127.0.0.1", server.addr).await);
    assert!(!tls_served_from(&pki, "127.0.0.3", server.addr).await);
    // Those held are still served.
    for tls in &mut held {
        get_keep_alive(tls).await;
    }
    drop(held.pop());
    served_soon(&pki, "127.0.0.1", server.addr).await;
}

#[tokio::test]
async fn listener_refuses_connections_over_max_connections_per_ip() {
    let pki = TestPki::new();
    let server = start_limited(
        mtls_mode(&pki),
        limits(|l| {
            l.max_connections = 100;
            l.max_connections_per_ip = 3;
        }),
    )
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let tcp = tcp_from("127.0.0.1", server.addr).await.expect("connect");
        held.push(tls_over(tcp, tls_config(&pki, &[b"http/1.1"])).await);
    }
    assert!(!tls_served_from(&pki, "127.0.0.1", server.addr).await);
    // Another address has its own count.
    assert!(tls_served_from(&pki, "127.0.0.2", server.addr).await);
    drop(held.pop());
    served_soon(&pki, "127.0.0.1", server.addr).await;
}

/// GET over plain HTTP from `local`; whether a 200 came back.
async fn plain_served_from(local: &str, addr: SocketAddr) -> Option<TcpStream> {
    let mut tcp = tcp_from(local, addr).await.ok()?;
    tcp.write_all(b"GET /whoami HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .ok()?;
    let mut head = [0u8; 12];
    match tokio::time::timeout(secs(5), tcp.read_exact(&mut head)).await {
        Ok(Ok(_)) if &head == b"HTTP/1.1 200" => Some(tcp),
        Ok(_) => None,
        Err(_) => panic!("over the limit, a connection must be closed, not left waiting"),
    }
}

#[tokio::test]
async fn trusted_proxies_are_exempt_from_the_per_ip_limit_but_others_are_not() {
    let pki = TestPki::new();
    let server = start_limited(
        proxy_mode(&pki, &["127.0.0.1"], CertificateHeader::Nginx),
        limits(|l| {
            l.max_connections = 100;
            l.max_connections_per_ip = 2;
        }),
    )
    .await;
    let mut held = Vec::new();
    // The trusted proxy carries many clients: more than two connections.
    for _ in 0..6 {
        let served = plain_served_from("127.0.0.1", server.addr).await;
        held.push(served.unwrap_or_else(|| panic!("trusted proxy refused")));
    }
    // An untrusted peer is limited.
    for _ in 0..2 {
        let served = plain_served_from("127.0.0.2", server.addr).await;
        held.push(served.unwrap_or_else(|| panic!("untrusted peer refused under its limit")));
    }
    assert!(plain_served_from("127.0.0.2", server.addr).await.is_none());
}

#[tokio::test]
async fn http2_responses_a_zero_window_never_lets_through_are_cut_off() {
    let pki = TestPki::new();
    let server = start_limited(mtls_mode(&pki), limits(|l| l.send_timeout_secs = 1)).await;
    let mut tasks = JoinSet::new();
    for _ in 0..N {
        let tls = tls_connect(server.addr, tls_config(&pki, &[b"h2"])).await;
        // No flow-control window at all: no DATA frame may reach the client,
        // and hyper waits for capacity without a write ever blocking.
        let (mut send, conn) = h2::client::Builder::new()
            .initial_window_size(0)
            .handshake::<_, Bytes>(tls)
            .await
            .expect("h2 handshake");
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        let req = http::Request::get("https://localhost/big")
            .body(())
            .expect("request");
        let (res, _) = send.send_request(req, true).expect("send request");
        let since = Instant::now();
        tasks.spawn(async move {
            let _keep = (send, res);
            let closed = tokio::time::timeout_at(since + secs(1) + MARGIN, conn).await;
            assert!(
                closed.is_ok(),
                "HTTP/2 connection with a zero window still open"
            );
            since.elapsed()
        });
    }
    normal_client_served(&pki, server.addr).await;
    all_closed(tasks, secs(1)).await;
}
