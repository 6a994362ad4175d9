//! One timer per connection instead of one per request: the IO, the request
//! body and the response body record what the connection is doing in a few
//! atomics, and the connection task sleeps until the earliest deadline that
//! state implies, then closes the connection or sleeps again.
//!
//! Per request this costs two `Arc` clones, a handful of relaxed atomic
//! operations and a clock read when the response body is handed over, at
//! each frame it yields and when the response ends; a clock read also
//! happens whenever a body or a write has to wait.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use crate::limits::TimeoutsMs;

/// "Not set" for the millisecond timestamps below.
const NONE: u64 = u64::MAX;

/// What a connection is doing, in milliseconds since it became ready for HTTP.
pub(crate) struct ConnState {
    start: Instant,
    /// Requests whose response has not finished (or been dropped).
    active: AtomicU32,
    /// A request has been seen; before that the header timeout runs from start.
    served: AtomicBool,
    /// HTTP/2: reads while idle are PINGs and window updates, not a request head.
    h2: AtomicBool,
    /// When `active` last dropped to zero.
    idle_since: AtomicU64,
    /// Set when idle; the next read records `first_byte`.
    awaiting_bytes: AtomicBool,
    /// First byte read after going idle: a request head has started.
    first_byte: AtomicU64,
    /// Request bodies the handler is waiting on.
    bodies_waiting: AtomicU32,
    /// Last time a waited-on body made progress (or the first wait began).
    body_progress: AtomicU64,
    /// When a write (or flush) started to wait for the client to read.
    write_stalled_since: AtomicU64,
    /// Response bodies handed to hyper and not yet finished.
    responses_open: AtomicU32,
    /// When a response body last gave hyper a frame (or was handed over).
    response_progress: AtomicU64,
}

/// Why the watchdog ends a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// Nothing in flight for the idle timeout: close gracefully (GOAWAY).
    Idle,
    /// A phase took too long: drop the connection.
    Stalled(&'static str),
}

impl ConnState {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            active: AtomicU32::new(0),
            served: AtomicBool::new(false),
            h2: AtomicBool::new(false),
            idle_since: AtomicU64::new(0),
            awaiting_bytes: AtomicBool::new(false),
            first_byte: AtomicU64::new(NONE),
            bodies_waiting: AtomicU32::new(0),
            body_progress: AtomicU64::new(0),
            write_stalled_since: AtomicU64::new(NONE),
            responses_open: AtomicU32::new(0),
            response_progress: AtomicU64::new(0),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    /// The instant `ms` after start, for the watchdog's sleep.
    pub(crate) fn instant(&self, ms: u64) -> Instant {
        self.start + std::time::Duration::from_millis(ms)
    }

    /// The next deadline (ms) if none has passed, else why to close.
    pub(crate) fn check(&self, t: &TimeoutsMs) -> Result<u64, Expiry> {
        let now = self.now_ms();
        let mut next = now.saturating_add(t.min);
        let mut expired = None;
        let mut consider = |since: u64, timeout: u64, why: Expiry| {
            let deadline = since.saturating_add(timeout);
            if deadline <= now {
                // A stall outranks idleness: it gets no graceful close.
                if expired.is_none() || why != Expiry::Idle {
                    expired = Some(why);
                }
            } else {
                next = next.min(deadline);
            }
        };
        let stalled = self.write_stalled_since.load(Ordering::Acquire);
        if stalled != NONE {
            consider(stalled, t.send, Expiry::Stalled("response not read"));
        }
        if self.active.load(Ordering::Acquire) == 0 {
            if self.served.load(Ordering::Acquire) {
                consider(
                    self.idle_since.load(Ordering::Acquire),
                    t.idle,
                    Expiry::Idle,
                );
                let first = self.first_byte.load(Ordering::Acquire);
                if first != NONE && !self.h2.load(Ordering::Relaxed) {
                    consider(first, t.header, Expiry::Stalled("request head too slow"));
                }
            } else {
                consider(0, t.header, Expiry::Stalled("no request after connect"));
                consider(0, t.idle, Expiry::Idle);
            }
        } else if self.bodies_waiting.load(Ordering::Acquire) > 0 {
            consider(
                self.body_progress.load(Ordering::Acquire),
                t.body,
                Expiry::Stalled("request body stalled"),
            );
        } else if self.responses_open.load(Ordering::Acquire) > 0 {
            // An HTTP/2 client that never opens its flow-control window
            // makes hyper stop polling the body without a write ever
            // blocking: no response frame for the send timeout is a stall.
            consider(
                self.response_progress.load(Ordering::Acquire),
                t.send,
                Expiry::Stalled("response not taken"),
            );
        }
        expired.map_or(Ok(next), Err)
    }

    /// Marks a request in flight until the returned guard drops.
    pub(crate) fn request_started(self: &Arc<Self>, h2: bool) -> ActiveGuard {
        self.active.fetch_add(1, Ordering::AcqRel);
        if !self.served.load(Ordering::Relaxed) {
            self.served.store(true, Ordering::Release);
        }
        if h2 && !self.h2.load(Ordering::Relaxed) {
            self.h2.store(true, Ordering::Relaxed);
        }
        ActiveGuard(Arc::clone(self))
    }
}

/// Holds a request in flight; travels with the response body.
pub(crate) struct ActiveGuard(Arc<ConnState>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let s = &self.0;
        s.idle_since.store(s.now_ms(), Ordering::Release);
        s.first_byte.store(NONE, Ordering::Release);
        s.awaiting_bytes.store(true, Ordering::Release);
        s.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The response body, carrying the request's [`ActiveGuard`] until hyper has
/// written it out or dropped it. No allocation: a field next to the body.
pub(crate) struct ResponseBody {
    inner: Body,
    guard: ActiveGuard,
}

impl ResponseBody {
    pub(crate) fn new(inner: Body, guard: ActiveGuard) -> Self {
        let conn = &guard.0;
        conn.response_progress
            .store(conn.now_ms(), Ordering::Release);
        conn.responses_open.fetch_add(1, Ordering::AcqRel);
        Self { inner, guard }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.guard.0.responses_open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl HttpBody for ResponseBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(_))) = &polled {
            let conn = &self.guard.0;
            conn.response_progress
                .store(conn.now_ms(), Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The request body, telling the watchdog while the handler waits on it.
pub(crate) struct RequestBody {
    inner: Incoming,
    conn: Arc<ConnState>,
    waiting: bool,
}

impl RequestBody {
    pub(crate) fn new(inner: Incoming, conn: Arc<ConnState>) -> Self {
        Self {
            inner,
            conn,
            waiting: false,
        }
    }

    fn stop_waiting(&mut self) {
        if self.waiting {
            self.waiting = false;
            self.conn.bodies_waiting.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl HttpBody for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if polled.is_pending() {
            if !this.waiting {
                this.waiting = true;
                if this.conn.bodies_waiting.fetch_add(1, Ordering::AcqRel) == 0 {
                    this.conn
                        .body_progress
                        .store(this.conn.now_ms(), Ordering::Release);
                }
            }
        } else if this.waiting {
            this.stop_waiting();
            // Progress on one stream counts for the connection (HTTP/2).
            this.conn
                .body_progress
                .store(this.conn.now_ms(), Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        self.stop_waiting();
    }
}

/// The connection's IO: notes the first byte after going idle and writes
/// that wait for the client.
pub(crate) struct WatchedIo<I> {
    io: I,
    conn: Arc<ConnState>,
}

impl<I> WatchedIo<I> {
    pub(crate) fn new(io: I, conn: Arc<ConnState>) -> Self {
        Self { io, conn }
    }

    fn note_write<T>(&self, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        let stalled = &self.conn.write_stalled_since;
        if polled.is_pending() {
            if stalled.load(Ordering::Relaxed) == NONE {
                stalled.store(self.conn.now_ms(), Ordering::Release);
            }
        } else if stalled.load(Ordering::Relaxed) != NONE {
            stalled.store(NONE, Ordering::Release);
        }
        polled
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for WatchedIo<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if self.conn.awaiting_bytes.load(Ordering::Relaxed)
            && buf.filled().len() > before
            && self.conn.awaiting_bytes.swap(false, Ordering::AcqRel)
        {
            self.conn
                .first_byte
                .store(self.conn.now_ms(), Ordering::Release);
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for WatchedIo<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        self.note_write(polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.note_write(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.io).poll_flush(cx);
        self.note_write(polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.io).poll_shutdown(cx);
        self.note_write(polled)
    }
}
