//! The gateway's upstream connections: kept alive and reused, verified over
//! TLS, and recovered when the upstream closes them. The upstream is a real
//! rustls + hyper server that counts the connections it accepts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use certbound_testkit::assert_error;
use certbound_testkit::server::{AsFixture, jwt_client};
use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use certbound_gateway::RunningGateway;

use certbound_testkit::TestPki;
use common::{curl, token};
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Mutex;
use tokio::task::JoinSet;

/// Size of the large bodies sent both ways.
const BIG: usize = 4 << 20;

/// An HTTPS upstream (the test PKI's `localhost` certificate) answering
/// with the request's path and `Host`, counting accepted connections.
/// `connections` holds the tasks serving them, so a test can close them all.
struct HttpsUpstream {
    url: String,
    accepted: Arc<AtomicUsize>,
    connections: Arc<Mutex<JoinSet<()>>>,
}

async fn start_https_upstream(pki: &TestPki) -> HttpsUpstream {
    let config = certbound_tls::server_config(
        pki.server_chain(),
        pki.server_key(),
        &certbound_tls::ClientAuth::None,
    )
    .expect("upstream TLS config");
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind upstream");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let connections = Arc::new(Mutex::new(JoinSet::new()));
    let (count, tasks) = (Arc::clone(&accepted), Arc::clone(&connections));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tasks.lock().await.spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let answer = service_fn(|req: Request<Incoming>| async move {
                    let (parts, body) = req.into_parts();
                    let received = body.collect().await.map(|b| b.to_bytes().len()).unwrap_or(0);
                    if parts.uri.path().ends_with("/big") {
                        // 4 MiB, far more than any buffer on the way.
                        return Ok::<_, Infallible>(Response::new(Body::from(vec![b'x'; BIG])));
                    }
                    let seen = json!({
                        "path": parts.uri.to_string(),
                        "host": parts.headers.get("host").and_then(|h| h.to_str().ok()),
                        "client": parts.headers.get("x-certbound-client-id").and_then(|h| h.to_str().ok()),
                        "received": received,
                    });
                    Ok(Response::new(Body::from(seen.to_string())))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), answer)
                    .await;
            });
        }
    });
    HttpsUpstream {
        url: format!("https://localhost:{port}"),
        accepted,
        connections,
    }
}

/// The shared test gateway, routing `/api` to `upstream/base`, trusting the
/// upstream's CA or not.
async fn start_gateway(
    pki: &TestPki,
    dir: &Path,
    issuer: &str,
    upstream: &str,
    upstream_ca: bool,
) -> RunningGateway {
    let ca = if upstream_ca {
        format!("ca = \"{}\"", pki.ca_path().display())
    } else {
        String::new()
    };
    let upstream = format!("{upstream}/base");
    let setup = common::GatewaySetup {
        upstream: &upstream,
        extra: "",
        policy: None,
        upstream_extra: &ca,
    };
    certbound_testkit::gateway::start_gateway(pki, dir, issuer, setup).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_upstream_connections_are_verified_reused_and_recovered() {
    let AsFixture { pki, dir, server } = AsFixture::start("").await;
    let a = jwt_client(&server, &pki, "a", "read").await;
    let bearer = format!(
        "Authorization: Bearer {}",
        token(&pki, &server, &a, "a").await
    );
    let upstream = start_https_upstream(&pki).await;
    let gw = start_gateway(&pki, dir.path(), &server.issuer, &upstream.url, true).await;
    let api = |path: &str| format!("https://localhost:{}/api{path}", gw.addr.port());
    let host = upstream.url.trim_start_matches("https://").to_owned();

    // Five callers, one after another, each on its own TLS connection to
    // the gateway: one upstream connection carries all five.
    for i in 0..5 {
        let (status, seen) = curl(
            &pki,
            Some(&a),
            &["-H", &bearer, &api(&format!("/{i}?q={i}"))],
        )
        .await;
        assert_eq!(status, 200, "{seen}");
        assert_eq!(
            seen,
            json!({ "path": format!("/base/api/{i}?q={i}"), "host": host, "client": "a", "received": 0 })
        );
    }
    assert_eq!(
        upstream.accepted.load(Ordering::SeqCst),
        1,
        "kept alive and reused"
    );

    // Large bodies stream both ways, and the connection is reused after them.
    let upload = dir.path().join("upload");
    std::fs::write(&upload, vec![b'u'; BIG]).expect("write upload");
    let data = format!("@{}", upload.display());
    let (status, seen) = curl(
        &pki,
        Some(&a),
        &["-H", &bearer, "--data-binary", &data, &api("/up")],
    )
    .await;
    assert_eq!((status, &seen["received"]), (200, &json!(BIG)), "{seen}");
    let download = dir.path().join("download");
    let out = download.display().to_string();
    let (status, _) = curl(&pki, Some(&a), &["-H", &bearer, "-o", &out, &api("/big")]).await;
    assert_eq!(status, 200);
    assert_eq!(
        std::fs::metadata(&download).map(|m| m.len()).ok(),
        Some(BIG as u64)
    );
    let (status, seen) = curl(&pki, Some(&a), &["-H", &bearer, &api("/again")]).await;
    assert_eq!(
        (status, &seen["path"]),
        (200, &json!("/base/api/again")),
        "{seen}"
    );
    assert_eq!(
        upstream.accepted.load(Ordering::SeqCst),
        1,
        "still the one connection"
    );

    // The upstream drops every connection (as on its keep-alive timeout):
    // the next request still succeeds, on a new connection.
    upstream.connections.lock().await.abort_all();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let (status, seen) = curl(&pki, Some(&a), &["-H", &bearer, &api("/after-close")]).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["path"], json!("/base/api/after-close"));
    assert_eq!(
        upstream.accepted.load(Ordering::SeqCst),
        2,
        "reconnected once"
    );
    gw.stop().await;

    // Without the upstream's CA the gateway refuses to talk to it: 502,
    // and the body does not name the upstream.
    let blind = start_gateway(&pki, dir.path(), &server.issuer, &upstream.url, false).await;
    let url = format!("https://localhost:{}/api/x", blind.addr.port());
    let (status, body): (u16, Value) = curl(&pki, Some(&a), &["-H", &bearer, &url]).await;
    assert_error(status, &body, (502, "bad_gateway"));
    assert!(!body.to_string().contains(&host), "{body}");
    blind.stop().await;
}
