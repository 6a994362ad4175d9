//! One load worker: requests back to back on a hyper HTTP/1.1 connection
//! over tokio-rustls, until the plan's time or request budget runs out.

use std::error::Error as StdError;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::Plan;
use super::stats::{ErrorKind, ErrorSamples, WorkerStats};
use crate::error::Result;

/// State every worker of a run shares.
pub struct Shared {
    /// The plan.
    pub plan: Arc<Plan>,
    /// When the run started (warm-up included): `--rate`'s schedule starts here.
    start: Instant,
    /// Requests before this instant are warm-up, not counted.
    measure_start: Instant,
    /// No measured request starts at or after this instant.
    deadline: Option<Instant>,
    /// Measured requests handed out so far.
    claimed: AtomicU64,
    /// With `--rate`: slots of the schedule handed out so far.
    paced: AtomicU64,
    /// `--forms-file` lines handed out so far, plus one per request that
    /// found none left (so it only grows, and never wraps to the first line).
    forms_taken: AtomicUsize,
    /// TCP connections that carried measured requests.
    pub connections: AtomicU64,
    /// Distinct error messages.
    pub samples: ErrorSamples,
}

impl Shared {
    /// State for a run whose measuring starts at `measure_start`.
    pub fn new(plan: Arc<Plan>, measure_start: Instant) -> Self {
        let deadline = plan.duration.map(|d| measure_start + d);
        Self {
            plan,
            start: Instant::now(),
            measure_start,
            deadline,
            claimed: AtomicU64::new(0),
            paced: AtomicU64::new(0),
            forms_taken: AtomicUsize::new(0),
            connections: AtomicU64::new(0),
            samples: ErrorSamples::default(),
        }
    }

    /// With `--rate`, waits for the next free slot of the schedule (slot n
    /// at n / rate seconds from the start); a slot already past is taken at
    /// once, so a worker that fell behind catches up.
    async fn pace(&self) {
        if let Some(rate) = self.plan.rate {
            let slot = self.paced.fetch_add(1, Ordering::Relaxed);
            let at = self.start + Duration::from_secs_f64(slot as f64 / rate);
            tokio::time::sleep_until(at.into()).await;
        }
    }

    /// Whether a request may start now: if so, whether it is measured and
    /// its own body (the next `--forms-file` line), if it has one.
    fn next(&self) -> Option<Ticket> {
        let now = Instant::now();
        let measured = now >= self.measure_start;
        if measured {
            if self.deadline.is_some_and(|d| now >= d) {
                return None;
            }
            if let Some(max) = self.plan.requests
                && self.claimed.fetch_add(1, Ordering::Relaxed) >= max
            {
                return None;
            }
        }
        let body = match &self.plan.forms {
            // Each index is handed out once; past the end the run is over.
            Some(forms) => Some(
                forms
                    .get(self.forms_taken.fetch_add(1, Ordering::Relaxed))?
                    .clone(),
            ),
            None => None,
        };
        Some(Ticket { measured, body })
    }

    /// With `--forms-file`: lines in the file, lines sent (warm-up
    /// included), and whether a request found none left.
    pub fn forms_usage(&self) -> Option<(usize, usize, bool)> {
        let total = self.plan.forms.as_ref()?.len();
        let taken = self.forms_taken.load(Ordering::Relaxed);
        Some((total, taken.min(total), taken > total))
    }
}

/// One request a worker may send.
struct Ticket {
    /// Counted in the report (not warm-up).
    measured: bool,
    /// Its body, when requests do not all send the same one.
    body: Option<Bytes>,
}

/// A request failure: its kind and a message for the samples.
struct Failure {
    kind: ErrorKind,
    message: String,
}

impl Failure {
    /// A failure whose message is `what` and `err`'s whole source chain; a
    /// TLS alert surfacing on the request (TLS 1.3 reports a rejected client
    /// certificate after the handshake) counts as a TLS failure.
    fn new(kind: ErrorKind, what: &str, err: &(dyn StdError + 'static)) -> Self {
        let mut message = format!("{what}: {err}");
        let mut tls = is_rustls(err);
        let mut source = err.source();
        while let Some(e) = source {
            message.push_str(": ");
            message.push_str(&e.to_string());
            tls |= is_rustls(e);
            source = e.source();
        }
        let kind = if tls { ErrorKind::Tls } else { kind };
        Self { kind, message }
    }
}

/// Whether `err` is, or is an I/O error wrapping, a rustls error.
fn is_rustls(err: &(dyn StdError + 'static)) -> bool {
    err.is::<rustls::Error>()
        || err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .is_some_and(|inner| inner.is::<rustls::Error>())
}

/// A kept-alive connection and whether it has been counted as measured.
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    counted: bool,
}

/// Runs requests until the budget is spent; never fails on a request error.
pub async fn run(shared: Arc<Shared>) -> Result<WorkerStats> {
    let mut stats = WorkerStats::new()?;
    let plan = &shared.plan;
    let mut conn: Option<Conn> = None;
    loop {
        shared.pace().await;
        let Some(Ticket { measured, body }) = shared.next() else {
            break;
        };
        let started = Instant::now();
        let body = body.as_ref();
        let outcome = tokio::time::timeout(plan.timeout, async {
            if plan.new_connection {
                let mut fresh = connect(&shared, measured).await?;
                send(&mut fresh.sender, plan, body)
                    .await
                    .map_err(Failure::from)
            } else {
                keep_alive(&shared, &mut conn, measured, body).await
            }
        })
        .await;
        let outcome = outcome.unwrap_or_else(|_| {
            Err(Failure {
                kind: ErrorKind::Timeout,
                message: format!("no complete response within {:?}", plan.timeout),
            })
        });
        let outcome = match outcome {
            Ok((status, bytes)) if status == plan.expect_status => Ok(bytes),
            Ok((status, _)) => Err(Failure {
                kind: ErrorKind::Status,
                message: format!("status {status} (expected {})", plan.expect_status),
            }),
            Err(failure) => {
                // The connection may be half-used; start over on the next request.
                conn = None;
                Err(failure)
            }
        };
        if !measured {
            continue;
        }
        match outcome {
            Ok(bytes) => stats.success(started.elapsed(), bytes),
            Err(failure) => {
                stats.failure(failure.kind);
                shared.samples.offer(|| failure.message);
            }
        }
    }
    Ok(stats)
}

/// One request on the worker's connection, (re)connecting when there is none
/// or the server closed it. A request resent after `Canceled` was never
/// written, so its body still reaches the server once.
async fn keep_alive(
    shared: &Shared,
    conn: &mut Option<Conn>,
    measured: bool,
    body: Option<&Bytes>,
) -> Result<(StatusCode, u64), Failure> {
    if let Some(c) = conn.as_mut() {
        if c.sender.ready().await.is_ok() {
            if measured && !c.counted {
                c.counted = true;
                shared.connections.fetch_add(1, Ordering::Relaxed);
            }
            match send(&mut c.sender, &shared.plan, body).await {
                // Closed by the server before our request went out: reconnect once.
                Err(SendError::Canceled(_)) => {}
                other => return other.map_err(Failure::from),
            }
        }
        *conn = None;
    }
    let fresh = conn.insert(connect(shared, measured).await?);
    send(&mut fresh.sender, &shared.plan, body)
        .await
        .map_err(Failure::from)
}

/// Opens TCP (+TLS) to the target and does the HTTP/1.1 handshake.
async fn connect(shared: &Shared, measured: bool) -> Result<Conn, Failure> {
    let plan = &shared.plan;
    let tcp = TcpStream::connect(plan.target.addr)
        .await
        .map_err(|e| Failure::new(ErrorKind::Connect, "connect", &e))?;
    if measured {
        shared.connections.fetch_add(1, Ordering::Relaxed);
    }
    tcp.set_nodelay(true)
        .map_err(|e| Failure::new(ErrorKind::Connect, "set TCP_NODELAY", &e))?;
    let sender = match &plan.connector {
        Some(connector) => {
            let tls = connector
                .connect(plan.target.server_name.clone(), tcp)
                .await
                .map_err(|e| Failure::new(ErrorKind::Tls, "TLS handshake", &e))?;
            handshake(tls).await?
        }
        None => handshake(tcp).await?,
    };
    Ok(Conn {
        sender,
        counted: measured,
    })
}

/// HTTP/1.1 client handshake; the connection is driven by its own task.
async fn handshake<T>(io: T) -> Result<SendRequest<Full<Bytes>>, Failure>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| Failure::new(ErrorKind::Http, "HTTP handshake", &e))?;
    tokio::spawn(async move {
        // Its errors surface on the request side; nothing to add here.
        let _ = connection.await;
    });
    Ok(sender)
}

/// Why sending failed: before the request was written (safe to retry) or after.
enum SendError {
    Canceled(hyper::Error),
    Other(Failure),
}

impl From<SendError> for Failure {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Canceled(e) => Failure::new(ErrorKind::Http, "request", &e),
            SendError::Other(f) => f,
        }
    }
}

/// Sends the plan's request (with `body` if given) and reads the whole
/// response body; returns status and body length.
async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    plan: &Plan,
    body: Option<&Bytes>,
) -> Result<(StatusCode, u64), SendError> {
    let response = sender
        .send_request(plan.request.build(body))
        .await
        .map_err(|e| {
            if e.is_canceled() {
                SendError::Canceled(e)
            } else {
                SendError::Other(Failure::new(ErrorKind::Http, "request", &e))
            }
        })?;
    let status = response.status();
    let mut body = response.into_body();
    let mut bytes = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| SendError::Other(Failure::new(ErrorKind::Http, "response body", &e)))?;
        if let Some(data) = frame.data_ref() {
            bytes += data.len() as u64;
        }
    }
    Ok((status, bytes))
}
