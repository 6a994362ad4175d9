//! A `/whoami` app served by certbound-tls on 127.0.0.1:0, and clients for it.

#![allow(dead_code, missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use certbound_testkit::{Curl, TestPki};
use certbound_tls::{
    CertificateHeader, ChainStatus, ClientCaBundle, ConnectionInfo, ConnectionLimits, ListenerMode,
    PeerCertificate, TrustedProxies,
};
use http::HeaderMap;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Answers what the listener told the handler.
async fn whoami(
    info: ConnectionInfo,
    cert: Option<PeerCertificate>,
    headers: HeaderMap,
) -> axum::Json<Value> {
    let cert_headers: Vec<&str> = certbound_tls::proxy::CERTIFICATE_HEADERS
        .into_iter()
        .filter(|h| headers.contains_key(*h))
        .collect();
    let cert = cert.map(|c| {
        json!({
            "x5t#S256": c.thumbprint().to_string(),
            "subject_dn": c.identity().subject.to_string(),
            "chain_validated": c.chain_validated(),
            "chain_status": match c.chain_status() {
                ChainStatus::Valid => "valid".to_owned(),
                ChainStatus::Invalid(r) => format!("invalid: {r}"),
                ChainStatus::NoTrustAnchors => "no trust anchors".to_owned(),
            },
            "source": format!("{:?}", c.source()),
        })
    });
    axum::Json(json!({
        "certificate": cert,
        "tls_version": info.tls_version,
        "resumed": info.resumed,
        "trusted_proxy": info.trusted_proxy,
        "certificate_headers_seen": cert_headers,
    }))
}

/// Reads the whole request body, as `/token` does; answers its length.
async fn echo(body: String) -> String {
    body.len().to_string()
}

/// A response larger than socket buffers hold, for clients that never read.
async fn big() -> Vec<u8> {
    vec![b'x'; BIG_RESPONSE]
}

/// Size of the `/big` response.
pub const BIG_RESPONSE: usize = 16 * 1024 * 1024;

pub fn app() -> Router {
    Router::new()
        .route("/whoami", get(whoami))
        .route("/echo", axum::routing::post(echo))
        .route("/big", get(big))
}

/// A running server; stops when dropped.
pub struct Running {
    pub addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

pub async fn start(mode: ListenerMode) -> Running {
    start_limited(mode, ConnectionLimits::default()).await
}

pub async fn start_limited(mode: ListenerMode, limits: ConnectionLimits) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(certbound_tls::serve(
        listener,
        mode,
        limits,
        app(),
        async move {
            let _ = stopped.await;
        },
    ));
    Running { addr, _stop: stop }
}

pub fn client_cas(pki: &TestPki) -> ClientCaBundle {
    ClientCaBundle::from_pem_file(&pki.ca_path()).expect("client CA bundle")
}

pub async fn start_mtls(pki: &TestPki) -> Running {
    start(mtls_mode(pki)).await
}

#[allow(unused_imports)]
pub use certbound_testkit::mtls_mode;

pub async fn start_proxy(pki: &TestPki, trusted: &[&str], header: CertificateHeader) -> Running {
    start(proxy_mode(pki, trusted, header)).await
}

pub fn proxy_mode(pki: &TestPki, trusted: &[&str], header: CertificateHeader) -> ListenerMode {
    let proxies = TrustedProxies::parse(trusted).expect("trusted proxies");
    ListenerMode::TrustedProxy {
        proxies,
        header,
        client_cas: client_cas(pki),
        address_header: None,
    }
}

/// Runs curl (never through a proxy from the environment); returns (exit code, body).
pub async fn curl(args: &[&str]) -> (i32, String) {
    let out = Curl::new().args(args).run().await;
    let mut text = out.stdout;
    if out.code != 0 {
        text.push_str(&out.stderr);
    }
    (out.code, text)
}

/// curl with the PKI's CA, presenting `who`'s certificate.
pub async fn curl_as(
    pki: &TestPki,
    who: &certbound_testkit::TestIdentity,
    extra: &[&str],
    url: &str,
) -> (i32, String) {
    let out = Curl::new()
        .args(extra)
        .ca(pki)
        .identity(Some(who))
        .arg(url)
        .run()
        .await;
    let mut text = out.stdout;
    if out.code != 0 {
        text.push_str(&out.stderr);
    }
    (out.code, text)
}

pub fn json(body: &str) -> Value {
    match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => panic!("not JSON ({e}): {body}"),
    }
}

/// GET /whoami over a rustls client connection; returns the parsed body and
/// whether the client saw a resumed handshake.
pub async fn rustls_get(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> Result<(Value, bool), std::io::Error> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name =
        rustls::pki_types::ServerName::try_from("localhost").map_err(std::io::Error::other)?;
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?;
    let resumed = tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
    tls.write_all(b"GET /whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let mut raw = Vec::new();
    // In TLS 1.3 a rejected client certificate shows up as an alert on the
    // first read, after the client believed the handshake complete.
    match tls.read_to_end(&mut raw).await {
        Ok(_) => {}
        // The server may close without close_notify after a complete response.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(e),
    }
    let text = String::from_utf8_lossy(&raw);
    let (_, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP response: {text:?}")))?;
    Ok((json(body), resumed))
}
