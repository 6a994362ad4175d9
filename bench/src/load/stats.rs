//! Per-worker counters and latency histograms, merged once at the end; and
//! the small shared sample of distinct error messages.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::error::{BenchError, Result};

/// Highest latency tracked exactly, in microseconds (longer ones are clamped).
const MAX_TRACKED_MICROS: u64 = 600_000_000;
/// Significant digits kept by the histograms.
const SIGFIG: u8 = 3;
/// Distinct error messages kept for the report.
pub const MAX_ERROR_SAMPLES: usize = 5;

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// TCP connect failed.
    Connect,
    /// The TLS handshake failed.
    Tls,
    /// Sending the request or reading the response failed (includes TLS
    /// alerts arriving after a TLS 1.3 handshake, e.g. a rejected client certificate).
    Http,
    /// A response arrived with another status than expected.
    Status,
    /// The request did not finish within `--timeout`.
    Timeout,
}

/// Failed requests by kind.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ErrorCounts {
    /// TCP connect failures.
    pub connect: u64,
    /// TLS handshake failures.
    pub tls: u64,
    /// Request/response I/O or protocol failures.
    pub http: u64,
    /// Unexpected statuses.
    pub status: u64,
    /// Timeouts.
    pub timeout: u64,
}

impl ErrorCounts {
    /// All failures.
    pub fn total(&self) -> u64 {
        self.connect + self.tls + self.http + self.status + self.timeout
    }

    fn add(&mut self, kind: ErrorKind) {
        match kind {
            ErrorKind::Connect => self.connect += 1,
            ErrorKind::Tls => self.tls += 1,
            ErrorKind::Http => self.http += 1,
            ErrorKind::Status => self.status += 1,
            ErrorKind::Timeout => self.timeout += 1,
        }
    }

    fn merge(&mut self, other: &Self) {
        self.connect += other.connect;
        self.tls += other.tls;
        self.http += other.http;
        self.status += other.status;
        self.timeout += other.timeout;
    }
}

/// What one worker measured.
pub struct WorkerStats {
    /// Latency of successful requests, microseconds.
    pub latency: Histogram<u32>,
    /// Successful requests.
    pub ok: u64,
    /// Failed requests.
    pub errors: ErrorCounts,
    /// Response body bytes received on successful requests.
    pub body_bytes: u64,
}

impl WorkerStats {
    /// Empty stats.
    pub fn new() -> Result<Self> {
        let latency = Histogram::new_with_bounds(1, MAX_TRACKED_MICROS, SIGFIG)
            .map_err(|e| BenchError::Histogram(e.to_string()))?;
        Ok(Self {
            latency,
            ok: 0,
            errors: ErrorCounts::default(),
            body_bytes: 0,
        })
    }

    /// Records a success.
    pub fn success(&mut self, latency: Duration, body_bytes: u64) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency.saturating_record(micros.max(1));
        self.ok += 1;
        self.body_bytes += body_bytes;
    }

    /// Records a failure.
    pub fn failure(&mut self, kind: ErrorKind) {
        self.errors.add(kind);
    }

    /// Adds another worker's stats to these.
    pub fn merge(&mut self, other: &Self) -> Result<()> {
        self.latency
            .add(&other.latency)
            .map_err(|e| BenchError::Histogram(format!("{e:?}")))?;
        self.ok += other.ok;
        self.errors.merge(&other.errors);
        self.body_bytes += other.body_bytes;
        Ok(())
    }
}

/// Up to [`MAX_ERROR_SAMPLES`] distinct error messages, shared by all workers.
#[derive(Default)]
pub struct ErrorSamples {
    full: AtomicBool,
    messages: Mutex<Vec<String>>,
}

impl ErrorSamples {
    /// Keeps `message` if it is new and there is room; cheap once full.
    pub fn offer(&self, message: impl FnOnce() -> String) {
        if self.full.load(Ordering::Relaxed) {
            return;
        }
        let message = message();
        let Ok(mut messages) = self.messages.lock() else {
            return;
        };
        if messages.len() < MAX_ERROR_SAMPLES && !messages.contains(&message) {
            messages.push(message);
        }
        if messages.len() >= MAX_ERROR_SAMPLES {
            self.full.store(true, Ordering::Relaxed);
        }
    }

    /// The messages kept, in order of first occurrence.
    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_counts() {
        let mut a = WorkerStats::new().unwrap();
        let mut b = WorkerStats::new().unwrap();
        a.success(Duration::from_micros(100), 10);
        b.success(Duration::from_micros(300), 10);
        b.success(Duration::from_secs(100_000), 10);
        b.failure(ErrorKind::Tls);
        b.failure(ErrorKind::Status);
        a.merge(&b).unwrap();
        assert_eq!(a.ok, 3);
        assert_eq!(a.body_bytes, 30);
        assert_eq!(a.errors.total(), 2);
        assert_eq!(a.latency.len(), 3);
        assert!(a.latency.max() >= MAX_TRACKED_MICROS);
    }

    #[test]
    fn samples_are_distinct_and_bounded() {
        let s = ErrorSamples::default();
        for i in 0..20 {
            s.offer(|| format!("e{}", i % 7));
            s.offer(|| "e0".to_owned());
        }
        assert_eq!(s.messages(), ["e0", "e1", "e2", "e3", "e4"]);
    }
}
