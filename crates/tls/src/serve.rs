//! The accept loop: TLS handshake (or trusted-proxy check) once per
//! connection, then HTTP/1.1 or HTTP/2 with the connection's certificate in
//! every request's extensions.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rustls::HandshakeKind;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tower::{Service, ServiceExt};
use tracing::{debug, warn};

use crate::proxy::{CertificateHeader, certificate_from_headers, strip_certificate_headers};
use crate::{
    CertificateSource, ClientCaBundle, ConnectionInfo, PeerCertificate, ProxyHeaderError,
    TrustedProxies,
};

/// A slow or silent client may hold a handshake this long.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Request headers must arrive within this (slowloris guard).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Open connections get this long to finish after shutdown is requested.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How a listener obtains the client certificate.
#[derive(Debug, Clone)]
pub enum ListenerMode {
    /// HTTPS requesting a client certificate; build `config` with
    /// [`crate::ClientAuth::Request`] and the same bundle.
    MutualTls {
        /// Server configuration.
        config: Arc<ServerConfig>,
        /// CAs that chains are validated against.
        client_cas: ClientCaBundle,
    },
    /// HTTPS without a certificate request (browser-facing).
    Tls {
        /// Server configuration.
        config: Arc<ServerConfig>,
    },
    /// Plain HTTP behind a TLS-terminating proxy.
    TrustedProxy {
        /// Peers whose certificate headers are honoured.
        proxies: TrustedProxies,
        /// The one header format those peers send.
        header: CertificateHeader,
        /// CAs that forwarded chains are validated against.
        client_cas: ClientCaBundle,
    },
}

/// What `serve` can serve: an axum `Router`, or a service of the same shape
/// that routes on its own (the gateway's hot path).
pub trait App:
    Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future: Send + 'static>
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> App for S where
    S: Service<
            Request<Body>,
            Response = Response<Body>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains open
/// connections for up to ten seconds.
pub async fn serve(
    listener: TcpListener,
    mode: ListenerMode,
    app: impl App,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let mode = Arc::new(mode);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(connection(
            tcp,
            peer,
            Arc::clone(&mode),
            app.clone(),
            graceful.watcher(),
        ));
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        warn!("connections still open after the drain timeout were closed");
    }
    Ok(())
}

/// Per-connection state shared by every request on it.
struct ConnectionContext {
    info: ConnectionInfo,
    certificate: Option<PeerCertificate>,
    /// Set on trusted-proxy listeners when the peer is trusted.
    proxy: Option<(CertificateHeader, ClientCaBundle)>,
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    mode: Arc<ListenerMode>,
    app: impl App,
    watcher: Watcher,
) {
    match &*mode {
        ListenerMode::MutualTls { config, client_cas } => {
            tls_connection(tcp, peer, config, Some(client_cas), app, watcher).await;
        }
        ListenerMode::Tls { config } => tls_connection(tcp, peer, config, None, app, watcher).await,
        ListenerMode::TrustedProxy {
            proxies,
            header: format,
            client_cas,
        } => {
            let trusted = proxies.contains(peer.ip());
            let ctx = ConnectionContext {
                info: ConnectionInfo {
                    trusted_proxy: trusted,
                    ..ConnectionInfo::new(peer)
                },
                certificate: None,
                proxy: trusted.then(|| (*format, client_cas.clone())),
            };
            serve_http(TokioIo::new(tcp), ctx, app, watcher).await;
        }
    }
}

async fn tls_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    config: &Arc<ServerConfig>,
    client_cas: Option<&ClientCaBundle>,
    app: impl App,
    watcher: Watcher,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(config));
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let conn = stream.get_ref().1;
    let certificate = match (client_cas, conn.peer_certificates()) {
        (Some(cas), Some(chain)) => {
            match PeerCertificate::from_chain(chain.to_vec(), cas, CertificateSource::MutualTls) {
                Ok(cert) => cert,
                Err(e) => {
                    // The verifier already parsed this certificate; reaching here
                    // means a resumed session from an older, laxer build.
                    warn!(%peer, error = %e, "client certificate unreadable; closing connection");
                    return;
                }
            }
        }
        _ => None,
    };
    let ctx = ConnectionContext {
        info: ConnectionInfo {
            tls_version: conn.protocol_version().and_then(|v| v.as_str()),
            resumed: conn.handshake_kind() == Some(HandshakeKind::Resumed),
            ..ConnectionInfo::new(peer)
        },
        certificate,
        proxy: None,
    };
    serve_http(TokioIo::new(stream), ctx, app, watcher).await;
}

async fn serve_http<I>(io: TokioIo<I>, ctx: ConnectionContext, app: impl App, watcher: Watcher)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ctx = Arc::new(ctx);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let ctx = Arc::clone(&ctx);
        let app = app.clone();
        async move {
            match prepare(req, &ctx) {
                Ok(req) => app.oneshot(req).await,
                Err(e) => Ok::<_, Infallible>(bad_request(&e)),
            }
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let conn = builder.serve_connection(io, service).into_owned();
    if let Err(e) = watcher.watch(conn).await {
        debug!(error = %e, "connection ended with an error");
    }
}

/// Attaches the connection's facts and certificate; strips certificate
/// headers that did not come from a trusted proxy.
fn prepare(
    mut req: Request<Incoming>,
    ctx: &ConnectionContext,
) -> Result<Request<Body>, ProxyHeaderError> {
    let certificate = match &ctx.proxy {
        Some((format, cas)) => {
            let cert = certificate_from_headers(req.headers(), *format, cas).map_err(|e| {
                warn!(peer = %ctx.info.peer_addr, error = %e, "rejected certificate header from trusted proxy");
                e
            })?;
            strip_certificate_headers(req.headers_mut());
            cert
        }
        None => {
            let stripped = strip_certificate_headers(req.headers_mut());
            if !stripped.is_empty() {
                warn!(
                    peer = %ctx.info.peer_addr,
                    headers = ?stripped,
                    "ignored client-certificate headers from a peer that is not a trusted proxy"
                );
            }
            ctx.certificate.clone()
        }
    };
    req.extensions_mut().insert(ctx.info.clone());
    if let Some(cert) = certificate {
        req.extensions_mut().insert(cert);
    }
    Ok(req.map(Body::new))
}

fn bad_request(e: &ProxyHeaderError) -> Response<Body> {
    let body =
        serde_json::json!({ "error": "invalid_request", "error_description": e.to_string() });
    let mut res = Response::new(Body::from(body.to_string()));
    *res.status_mut() = StatusCode::BAD_REQUEST;
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
