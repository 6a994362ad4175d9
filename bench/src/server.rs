//! `certbound-bench fixed-server`: answers every request with 200 and a fixed
//! JSON body. Over mTLS it is the "TLS ceiling" a real server is compared
//! with; on plain HTTP it is a trivial upstream behind a proxy.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::HandshakeKind;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket};
use tokio_rustls::TlsAcceptor;

use crate::error::{BenchError, Result};
use crate::target::check_listen;
use crate::tls::server_config;

/// The largest `--body-size`.
pub const MAX_BODY_SIZE: usize = 16 * 1024 * 1024;
/// Pending connections the kernel queues per listener.
const BACKLOG: u32 = 4096;
/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Options of `certbound-bench fixed-server`.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// HTTPS listen address (loopback only), e.g. 127.0.0.1:8443; port 0 picks one.
    #[arg(long, requires_all = ["cert", "key"])]
    pub listen: Option<SocketAddr>,
    /// Additional plain-HTTP listen address (loopback only), e.g. 127.0.0.1:8080.
    #[arg(long)]
    pub plain_listen: Option<SocketAddr>,
    /// Server certificate chain (PEM), for --listen.
    #[arg(long, requires = "listen")]
    pub cert: Option<PathBuf>,
    /// Server private key (PEM), for --listen.
    #[arg(long, requires = "listen")]
    pub key: Option<PathBuf>,
    /// Require a client certificate chaining to this CA (PEM); without it, no client auth.
    #[arg(long, requires = "listen")]
    pub client_ca: Option<PathBuf>,
    /// Exact size of every response body in bytes (JSON, padded).
    #[arg(long, default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(0..=MAX_BODY_SIZE as u64))]
    pub body_size: u64,
}

/// A JSON value of exactly `size` bytes: `{"pad":"aaa…"}` when it fits, else
/// a string or a one-digit number (an empty body for 0).
pub fn fixed_body(size: usize) -> Bytes {
    const OPEN: &str = "{\"pad\":\"";
    const CLOSE: &str = "\"}";
    let body = match size {
        0 => String::new(),
        1 => "0".to_owned(),
        n if n < OPEN.len() + CLOSE.len() => format!("\"{}\"", "a".repeat(n - 2)),
        n => format!("{OPEN}{}{CLOSE}", "a".repeat(n - OPEN.len() - CLOSE.len())),
    };
    Bytes::from(body)
}

/// Counters printed on shutdown.
#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    handshake_failures: AtomicU64,
    resumed: AtomicU64,
    requests: AtomicU64,
}

/// Binds the listeners, prints `ready …`, serves until SIGTERM or ctrl-c.
pub async fn run(args: ServerArgs) -> Result<()> {
    if args.listen.is_none() && args.plain_listen.is_none() {
        return Err(BenchError::Usage(
            "give --listen ADDR (HTTPS) and/or --plain-listen ADDR (plain HTTP)".into(),
        ));
    }
    let tls = match (args.listen, &args.cert, &args.key) {
        (Some(addr), Some(cert), Some(key)) => {
            let config = server_config(cert, key, args.client_ca.as_deref())?;
            Some((check_listen(addr)?, TlsAcceptor::from(config)))
        }
        (Some(_), _, _) => {
            return Err(BenchError::Usage("--listen needs --cert and --key".into()));
        }
        (None, _, _) => None,
    };
    let plain = args.plain_listen.map(check_listen).transpose()?;
    let size = usize::try_from(args.body_size)
        .map_err(|_| BenchError::Usage("--body-size is too large".into()))?;
    let body = fixed_body(size);
    let counters = Arc::new(Counters::default());

    // Signals first, so a SIGTERM right after `ready` is never missed.
    let shutdown = shutdown_signal()?;
    let mut ready = vec![];
    let mut tasks = vec![];
    if let Some((addr, acceptor)) = tls {
        let listener = bind(addr)?;
        let local = listener
            .local_addr()
            .map_err(|source| BenchError::Bind { addr, source })?;
        let mode = if args.client_ca.is_some() {
            "mtls"
        } else {
            "tls"
        };
        ready.push(format!("https://{local} ({mode})"));
        tasks.push(tokio::spawn(accept_loop(
            listener,
            Some(acceptor),
            body.clone(),
            counters.clone(),
        )));
    }
    if let Some(addr) = plain {
        let listener = bind(addr)?;
        let local = listener
            .local_addr()
            .map_err(|source| BenchError::Bind { addr, source })?;
        ready.push(format!("http://{local} (plain)"));
        tasks.push(tokio::spawn(accept_loop(
            listener,
            None,
            body.clone(),
            counters.clone(),
        )));
    }
    println!("ready {} body={}B", ready.join(" "), body.len());
    shutdown.await;
    for task in &tasks {
        task.abort();
    }
    eprintln!(
        "stopped: {} requests on {} connections, {} failed TLS handshakes, {} resumed",
        counters.requests.load(Ordering::Relaxed),
        counters.connections.load(Ordering::Relaxed),
        counters.handshake_failures.load(Ordering::Relaxed),
        counters.resumed.load(Ordering::Relaxed),
    );
    Ok(())
}

/// A listener with a deep accept backlog (new-connection load opens many at once).
fn bind(addr: SocketAddr) -> Result<TcpListener> {
    let err = |source| BenchError::Bind { addr, source };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(err)?;
    socket.set_reuseaddr(true).map_err(err)?;
    socket.bind(addr).map_err(err)?;
    socket.listen(BACKLOG).map_err(err)
}

/// Resolves once SIGTERM or SIGINT (ctrl-c) arrives.
fn shutdown_signal() -> Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(BenchError::Runtime)?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Accepts forever; each connection gets its own task.
async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    body: Bytes,
    counters: Arc<Counters>,
) {
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(_) => {
                // Out of file descriptors and the like: back off, don't spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        counters.connections.fetch_add(1, Ordering::Relaxed);
        let acceptor = acceptor.clone();
        let body = body.clone();
        let counters = counters.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            match acceptor {
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            if tls.get_ref().1.handshake_kind() == Some(HandshakeKind::Resumed) {
                                counters.resumed.fetch_add(1, Ordering::Relaxed);
                            }
                            serve(tls, body, counters).await
                        }
                        _ => {
                            counters.handshake_failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                None => serve(tcp, body, counters).await,
            }
        });
    }
}

/// HTTP/1.1 with keep-alive on one connection.
async fn serve<T>(io: T, body: Bytes, counters: Arc<Counters>)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| respond(req, body.clone(), counters.clone()));
    // Client resets and bad requests end the connection; nothing to report.
    let _ = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service)
        .await;
}

/// Drains the request body, answers 200 with the fixed body.
async fn respond(
    req: Request<Incoming>,
    body: Bytes,
    counters: Arc<Counters>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut incoming = req.into_body();
    while let Some(frame) = incoming.frame().await {
        if frame.is_err() {
            break;
        }
    }
    counters.requests.fetch_add(1, Ordering::Relaxed);
    let mut response = Response::new(Full::new(body));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_exact_size_and_is_json() {
        for n in [0usize, 1, 2, 3, 9, 10, 11, 64, 1000] {
            let b = fixed_body(n);
            assert_eq!(b.len(), n);
            if n > 0 {
                serde_json::from_slice::<serde_json::Value>(&b).unwrap();
            }
        }
    }
}
