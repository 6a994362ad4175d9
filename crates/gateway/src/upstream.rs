//! Keep-alive HTTP/1.1 connections to one upstream origin. A request takes
//! an idle connection (or opens one) and the response body gives it back
//! once read to its end, so the proxy path spawns no task per request.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use http::header::HOST;
use http::{HeaderValue, Request, Response, Uri};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tracing::debug;

/// Idle connections kept per origin; one given back beyond this is closed.
pub(crate) const MAX_IDLE: usize = 256;
/// An idle connection older than this is closed instead of reused: servers
/// drop idle keep-alive connections after a while (nginx: 75 s).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// One upstream origin (scheme, host, port) and its idle connections.
pub(crate) struct Origin {
    /// Host to connect to, without IPv6 brackets.
    host: String,
    port: u16,
    /// `Host` header for requests: the configured authority.
    host_header: HeaderValue,
    /// Set for `https://` origins.
    tls: Option<(TlsConnector, ServerName<'static>)>,
    connect_timeout: Duration,
    idle: Mutex<VecDeque<IdleConnection>>,
}

struct IdleConnection {
    sender: SendRequest<Body>,
    since: Instant,
}

impl Origin {
    /// The origin of `uri` (`http://` or `https://`, already validated by the
    /// config). `tls` is used for `https://`.
    pub(crate) fn new(
        uri: &Uri,
        tls: &Arc<ClientConfig>,
        connect_timeout: Duration,
    ) -> io::Result<Self> {
        let invalid =
            |why: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{uri}: {why}"));
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(invalid("the scheme must be http or https")),
        };
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let tls = if https {
            let name = ServerName::try_from(host.clone())
                .map_err(|_| invalid("the host is not a valid TLS server name"))?;
            let mut config = ClientConfig::clone(tls);
            // Only HTTP/1.1 is spoken to upstreams.
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Some((TlsConnector::from(Arc::new(config)), name))
        } else {
            None
        };
        Ok(Self {
            port: authority.port_u16().unwrap_or(if https { 443 } else { 80 }),
            host,
            host_header: HeaderValue::from_str(authority.as_str())
                .map_err(|_| invalid("the host is not a valid Host header"))?,
            tls,
            connect_timeout,
            idle: Mutex::new(VecDeque::new()),
        })
    }

    /// Sends `req` (origin-form URI) and returns the response, its body
    /// streaming from the upstream.
    pub(crate) async fn send(
        self: &Arc<Self>,
        mut req: Request<Body>,
    ) -> io::Result<Response<Body>> {
        req.headers_mut().insert(HOST, self.host_header.clone());
        // Every request's future is allocated at the size of its largest
        // state, so only the common path (a ready idle connection, one
        // exchange) is inline; waiting, connecting and retrying are boxed.
        let (mut sender, reused) = match self.checkout_ready() {
            Some(sender) => (sender, true),
            None => Box::pin(self.checkout_or_connect()).await?,
        };
        let response = match sender.try_send_request(req).await {
            Ok(response) => response,
            Err(mut e) => match e.take_message() {
                // The upstream closed a kept-alive connection before our
                // request went out: it never saw it, so one retry is safe.
                Some(req) if reused => {
                    debug!(error = %e.error(), "kept-alive upstream connection closed; reconnecting");
                    let (fresh, response) = Box::pin(self.send_on_new(req)).await?;
                    sender = fresh;
                    response
                }
                _ => return Err(io::Error::other(e.into_error())),
            },
        };
        let origin = Arc::clone(self);
        Ok(response.map(|body| {
            Body::new(Recycle {
                body,
                connection: Some(sender),
                origin,
            })
        }))
    }

    /// The most recently used idle connection, if it is ready now.
    fn checkout_ready(&self) -> Option<SendRequest<Body>> {
        let mut idle = self.idle_list();
        let last = idle.back()?;
        if last.since.elapsed() > IDLE_TIMEOUT || !last.sender.is_ready() {
            // Stale, still finishing or closed: `checkout` sorts it out.
            return None;
        }
        idle.pop_back().map(|last| last.sender)
    }

    /// An idle connection once it is ready, else a new one; `true` when
    /// it was idle.
    async fn checkout_or_connect(&self) -> io::Result<(SendRequest<Body>, bool)> {
        match self.checkout().await {
            Some(sender) => Ok((sender, true)),
            None => Ok((self.connect().await?, false)),
        }
    }

    /// Sends `req` on a new connection.
    async fn send_on_new(
        &self,
        req: Request<Body>,
    ) -> io::Result<(SendRequest<Body>, Response<Incoming>)> {
        let mut sender = self.connect().await?;
        let response = sender.send_request(req).await.map_err(io::Error::other)?;
        Ok((sender, response))
    }

    /// The most recently used idle connection that is still open, if any.
    async fn checkout(&self) -> Option<SendRequest<Body>> {
        loop {
            let idle = self.idle_list().pop_back()?;
            if idle.since.elapsed() > IDLE_TIMEOUT {
                // Everything before it is older still.
                self.idle_list().clear();
                return None;
            }
            let mut sender = idle.sender;
            if sender.is_ready() {
                return Some(sender);
            }
            // Its task may still be finishing the last exchange; an error
            // means the upstream closed it, a wait this long that it is stuck.
            if let Ok(Ok(())) = tokio::time::timeout(self.connect_timeout, sender.ready()).await {
                return Some(sender);
            }
        }
    }

    /// Gives a connection whose last response was read to the end back.
    fn give_back(&self, sender: SendRequest<Body>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle_list();
        if idle.len() < MAX_IDLE {
            idle.push_back(IdleConnection {
                sender,
                since: Instant::now(),
            });
        }
    }

    fn idle_list(&self) -> std::sync::MutexGuard<'_, VecDeque<IdleConnection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn connect(&self) -> io::Result<SendRequest<Body>> {
        let target = (self.host.as_str(), self.port);
        let tcp = tokio::time::timeout(self.connect_timeout, TcpStream::connect(target))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        tcp.set_nodelay(true)?;
        match &self.tls {
            None => handshake(tcp).await,
            Some((connector, name)) => handshake(connector.connect(name.clone(), tcp).await?).await,
        }
    }
}

/// Starts HTTP/1.1 on `io`; its connection task runs until either side closes.
async fn handshake<T>(io: T) -> io::Result<SendRequest<Body>>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(io))
        .await
        .map_err(io::Error::other)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            debug!(error = %e, "upstream connection ended");
        }
    });
    Ok(sender)
}

/// An upstream response body that returns its connection to the idle list
/// once the body has been read to its end. Dropped earlier (the caller went
/// away), the connection closes: it still has unread bytes in flight.
struct Recycle {
    body: Incoming,
    connection: Option<SendRequest<Body>>,
    origin: Arc<Origin>,
}

impl Recycle {
    /// Gives the connection back (once) when the body has been read to its end.
    fn finish(&mut self, at_end: bool) {
        if at_end && let Some(sender) = self.connection.take() {
            self.origin.give_back(sender);
        }
    }
}

impl HttpBody for Recycle {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let frame = ready!(Pin::new(&mut self.body).poll_frame(cx));
        match &frame {
            None => self.finish(true),
            Some(Ok(_)) => {
                let at_end = self.body.is_end_stream();
                self.finish(at_end);
            }
            Some(Err(_)) => self.connection = None,
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Recycle {
    fn drop(&mut self) {
        // A body with nothing to read (204, HEAD, or fully read without a
        // final poll) still frees its connection.
        let at_end = self.body.is_end_stream();
        self.finish(at_end);
    }
}
