//! The accept loop: TLS handshake (or trusted-proxy check) once per
//! connection, then HTTP/1.1 or HTTP/2 with the connection's certificate in
//! every request's extensions. Every phase of a connection has a timeout and
//! each listener limits its connections, in total and per client address
//! ([`ConnectionLimits`]). The TLS setup is read once per connection from a
//! [`ReloadableMode`], so a reload applies to the next handshake.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode, Version, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::HandshakeKind;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::{Service, ServiceExt};
use tracing::{debug, warn};

use crate::admission::{Admission, Permit, RefusalLog};
use crate::extract::{ExpectsAddress, ForwardedAddress};
use crate::forwarded_address;
use crate::limits::{ConnectionLimits, TimeoutsMs};
use crate::proxy::{CertificateHeader, certificate_from_headers, strip_certificate_headers};
use crate::reload::NO_CLIENT_CAS;
use crate::watchdog::{ConnState, Expiry, RequestBody, ResponseBody, WatchedIo};
use crate::{
    CertificateSource, ClientCaBundle, ConnectionInfo, PeerCertificate, ProxyHeaderError,
    ReloadableMode, TrustedProxies,
};

/// After an idle close is started (HTTP/2 GOAWAY), the longest wait before
/// the socket is dropped; shorter when the idle timeout is.
const IDLE_CLOSE_GRACE: Duration = Duration::from_secs(5);
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
        /// The header those peers put the client's address in, if any
        /// (`X-Forwarded-For`, `X-Real-IP`): see [`CallerAddress`].
        address_header: Option<HeaderName>,
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

/// What every connection of one listener shares.
struct Listener {
    mode: ReloadableMode,
    builder: auto::Builder<TokioExecutor>,
    timeouts: TimeoutsMs,
    handshake_timeout: Duration,
    idle_close_grace: Duration,
    /// Flips to true when the server shuts down: connections close gracefully.
    shutdown: watch::Receiver<bool>,
}

/// Serves `app` on `listener` with `limits` until `shutdown` resolves, then
/// lets requests in flight finish for up to `limits.drain_timeout_secs`. A
/// [`ReloadableMode`] (or a fixed [`ListenerMode`]) gives each new
/// connection its TLS setup.
pub async fn serve(
    listener: TcpListener,
    mode: impl Into<ReloadableMode>,
    limits: ConnectionLimits,
    app: impl App,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    limits.validate().map_err(|(key, message)| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{key}: {message}"),
        )
    })?;
    let (stop, stopped) = watch::channel(false);
    let shared = Arc::new(Listener {
        builder: http_builder(&limits),
        timeouts: TimeoutsMs::from(&limits),
        handshake_timeout: limits.handshake_timeout(),
        idle_close_grace: IDLE_CLOSE_GRACE.min(Duration::from_secs(limits.idle_timeout_secs)),
        shutdown: stopped,
        mode: mode.into(),
    });
    let admission = Admission::new(limits.max_connections, limits.max_connections_per_ip);
    let mut refusals = RefusalLog::new();
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
        // One atomic load: the connection keeps this setup whatever reloads later.
        let mode = shared.mode.current();
        // Behind a trusted proxy every client shares the proxy's address.
        let exempt = matches!(&*mode, ListenerMode::TrustedProxy { proxies, .. } if proxies.contains(peer.ip()));
        let permit = match admission.admit(peer.ip(), exempt) {
            Ok(permit) => permit,
            Err(why) => {
                drop(tcp);
                refusals.refused(why, limits.max_connections, limits.max_connections_per_ip);
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(connection(
            tcp,
            peer,
            Arc::clone(&shared),
            mode,
            app.clone(),
            permit,
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    if tokio::time::timeout(limits.drain_timeout(), admission.drained())
        .await
        .is_err()
    {
        warn!(
            drain_timeout_secs = limits.drain_timeout_secs,
            "connections still open after the drain timeout were closed"
        );
    }
    Ok(())
}

/// The HTTP/1.1 + HTTP/2 settings every connection of a listener uses.
fn http_builder(limits: &ConnectionLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper's own header timer would also cap keep-alive idleness at the
    // header timeout; the watchdog times both phases separately.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None);
    let interval = (limits.http2_keep_alive_interval_secs > 0)
        .then(|| Duration::from_secs(limits.http2_keep_alive_interval_secs));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.http2_max_concurrent_streams)
        .keep_alive_interval(interval)
        .keep_alive_timeout(Duration::from_secs(limits.http2_keep_alive_timeout_secs));
    builder
}

/// What a trusted proxy's requests carry, and where.
struct TrustedPeer {
    format: CertificateHeader,
    /// Read per request: one proxy connection carries many clients, so a
    /// reloaded bundle must apply to the next request, not the next connection.
    mode: ReloadableMode,
    address_header: Option<HeaderName>,
}

/// Per-connection state shared by every request on it.
struct ConnectionContext {
    info: ConnectionInfo,
    certificate: Option<PeerCertificate>,
    /// Set on trusted-proxy listeners when the peer is trusted.
    proxy: Option<TrustedPeer>,
    state: Arc<ConnState>,
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    listener: Arc<Listener>,
    mode: Arc<ListenerMode>,
    app: impl App,
    permit: Permit,
) {
    match &*mode {
        ListenerMode::MutualTls { config, client_cas } => {
            tls_connection(tcp, peer, config, Some(client_cas), app, &listener).await;
        }
        ListenerMode::Tls { config } => {
            tls_connection(tcp, peer, config, None, app, &listener).await;
        }
        ListenerMode::TrustedProxy {
            proxies,
            header: format,
            address_header,
            ..
        } => {
            let trusted = proxies.contains(peer.ip());
            let ctx = ConnectionContext {
                info: ConnectionInfo {
                    trusted_proxy: trusted,
                    ..ConnectionInfo::new(peer)
                },
                certificate: None,
                proxy: trusted.then(|| TrustedPeer {
                    format: *format,
                    mode: listener.mode.clone(),
                    address_header: address_header.clone(),
                }),
                state: ConnState::new(),
            };
            serve_http(tcp, ctx, app, &listener).await;
        }
    }
    drop(permit);
}

async fn tls_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    config: &Arc<ServerConfig>,
    client_cas: Option<&ClientCaBundle>,
    app: impl App,
    listener: &Listener,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(config));
    let stream = match tokio::time::timeout(listener.handshake_timeout, acceptor.accept(tcp)).await
    {
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
        state: ConnState::new(),
    };
    serve_http(stream, ctx, app, listener).await;
}

async fn serve_http<I>(io: I, ctx: ConnectionContext, app: impl App, listener: &Listener)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let state = Arc::clone(&ctx.state);
    let io = TokioIo::new(WatchedIo::new(io, Arc::clone(&state)));
    let ctx = Arc::new(ctx);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let ctx = Arc::clone(&ctx);
        let app = app.clone();
        async move {
            let guard = ctx.state.request_started(req.version() == Version::HTTP_2);
            let res = match prepare(req, &ctx) {
                Ok(req) => match app.oneshot(req).await {
                    Ok(res) => res,
                    Err(never) => match never {},
                },
                Err(e) => bad_request(&e),
            };
            Ok::<_, Infallible>(res.map(|body| ResponseBody::new(body, guard)))
        }
    });
    let conn = listener.builder.serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let mut shutdown = listener.shutdown.clone();
    let mut shutting_down = *shutdown.borrow();
    if shutting_down {
        conn.as_mut().graceful_shutdown();
    }
    let first = state.check(&listener.timeouts).unwrap_or(0);
    let sleep = tokio::time::sleep_until(state.instant(first));
    let mut sleep = std::pin::pin!(sleep);
    let mut closing = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = sleep.as_mut() => {
                if closing {
                    debug!("idle connection did not close in time; dropped");
                    return;
                }
                match state.check(&listener.timeouts) {
                    Ok(next) => sleep.as_mut().reset(state.instant(next)),
                    Err(Expiry::Idle) => {
                        conn.as_mut().graceful_shutdown();
                        closing = true;
                        sleep
                            .as_mut()
                            .reset(tokio::time::Instant::now() + listener.idle_close_grace);
                    }
                    Err(Expiry::Stalled(why)) => {
                        debug!(reason = why, "connection timed out; closed");
                        return;
                    }
                }
            }
            _ = shutdown.changed(), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Attaches the connection's facts, certificate and (from a trusted proxy)
/// the client's address; strips certificate headers that did not come from
/// a trusted proxy.
fn prepare(
    req: Request<Incoming>,
    ctx: &ConnectionContext,
) -> Result<Request<Body>, ProxyHeaderError> {
    let mut req = req.map(|body| RequestBody::new(body, Arc::clone(&ctx.state)));
    let certificate = match &ctx.proxy {
        Some(proxy) => {
            let mode = proxy.mode.load();
            let client_cas = mode.client_cas().unwrap_or(&NO_CLIENT_CAS);
            let cert = certificate_from_headers(req.headers(), proxy.format, client_cas)
                .map_err(|e| {
                    warn!(peer = %ctx.info.peer_addr, error = %e, "rejected certificate header from trusted proxy");
                    e
                })?;
            strip_certificate_headers(req.headers_mut());
            let address = proxy
                .address_header
                .as_ref()
                .and_then(|name| forwarded_address(req.headers(), name));
            match address {
                Some(ip) => {
                    req.extensions_mut().insert(ForwardedAddress(ip));
                }
                None if proxy.address_header.is_some() => {
                    req.extensions_mut().insert(ExpectsAddress);
                }
                None => {}
            }
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
