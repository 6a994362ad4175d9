//! The result of a load run, as JSON and as a human-readable table.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;

use super::Plan;
use super::cpu::{ProcessCpu, per_request_us};
use super::stats::{ErrorCounts, WorkerStats};
use super::worker::Shared;

/// Latency percentiles of successful requests, milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

/// How a `--forms-file` was used.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FormsUsage {
    /// Form bodies in the file.
    pub lines: u64,
    /// Lines sent, each once, warm-up included.
    pub used: u64,
    /// Whether a request found no line left, which ended the run before
    /// `--duration`/`--requests` did (`rps` is over the time actually measured).
    pub exhausted: bool,
}

/// Everything a run measured (warm-up excluded).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The target URL.
    pub url: String,
    /// "keep-alive" or "new-connection".
    pub mode: &'static str,
    /// Workers.
    pub concurrency: u32,
    /// With `--rate`: the requests per second asked for (all workers).
    pub rate: Option<f64>,
    /// Measured requests completed, successful or not.
    pub requests: u64,
    /// Requests answered with the expected status.
    pub ok: u64,
    /// Requests that failed (any kind).
    pub errors: u64,
    /// Failures by kind.
    pub errors_by_kind: ErrorCounts,
    /// Measured wall time, seconds.
    pub duration_secs: f64,
    /// Successful requests per second.
    pub rps: f64,
    /// Latency of successful requests, from starting the request (in
    /// new-connection mode: from the TCP connect) to the end of the body.
    pub latency_ms: Latency,
    /// TCP connections that carried measured requests.
    pub connections: u64,
    /// Response body bytes of successful requests.
    pub body_bytes: u64,
    /// Warm-up before measuring, seconds.
    pub warmup_secs: f64,
    /// The status counted as success.
    pub expect_status: u16,
    /// Up to five distinct error messages.
    pub error_samples: Vec<String>,
    /// CPU each `--cpu-of` process used over the measured window, in order given.
    pub server_cpu: Vec<ProcessCpu>,
    /// Their CPU together, microseconds per measured request (none without
    /// `--cpu-of` or without requests).
    pub server_cpu_us_per_request: Option<f64>,
    /// With `--forms-file`: how many of its lines were used.
    pub forms: Option<FormsUsage>,
}

/// Microseconds to milliseconds, rounded to the microsecond.
fn ms(micros: f64) -> f64 {
    (micros).round() / 1000.0
}

impl Report {
    /// Builds the report from merged stats and the measured wall time.
    pub fn new(plan: &Plan, stats: &WorkerStats, shared: &Shared, elapsed: Duration) -> Self {
        let h = &stats.latency;
        let latency = if h.is_empty() {
            Latency {
                p50: 0.0,
                p90: 0.0,
                p99: 0.0,
                max: 0.0,
                mean: 0.0,
            }
        } else {
            let q = |p: f64| ms(h.value_at_quantile(p) as f64);
            Latency {
                p50: q(0.50),
                p90: q(0.90),
                p99: q(0.99),
                max: ms(h.max() as f64),
                mean: ms(h.mean()),
            }
        };
        let secs = elapsed.as_secs_f64();
        let errors = stats.errors.total();
        Self {
            url: plan.target.url.clone(),
            mode: plan.mode(),
            concurrency: plan.concurrency,
            rate: plan.rate,
            requests: stats.ok + errors,
            ok: stats.ok,
            errors,
            errors_by_kind: stats.errors,
            duration_secs: (secs * 1000.0).round() / 1000.0,
            rps: if secs > 0.0 {
                ((stats.ok as f64 / secs) * 10.0).round() / 10.0
            } else {
                0.0
            },
            latency_ms: latency,
            connections: shared.connections.load(Ordering::Relaxed),
            body_bytes: stats.body_bytes,
            warmup_secs: plan.warmup.as_secs_f64(),
            expect_status: plan.expect_status.as_u16(),
            error_samples: shared.samples.messages(),
            server_cpu: Vec::new(),
            server_cpu_us_per_request: None,
            forms: shared
                .forms_usage()
                .map(|(lines, used, exhausted)| FormsUsage {
                    lines: lines as u64,
                    used: used as u64,
                    exhausted,
                }),
        }
    }

    /// Adds what the `--cpu-of` processes spent while this run measured.
    pub fn add_server_cpu(&mut self, cpu: Vec<ProcessCpu>) {
        if !cpu.is_empty() {
            let total: f64 = cpu.iter().map(|p| p.cpu_secs).sum();
            self.server_cpu_us_per_request = per_request_us(total, self.requests);
        }
        self.server_cpu = cpu;
    }

    /// The report as aligned lines for a terminal.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let l = &self.latency_ms;
        let e = &self.errors_by_kind;
        // Writing to a String cannot fail.
        let _ = writeln!(out, "target        {}", self.url);
        let _ = writeln!(
            out,
            "mode          {}, concurrency {}{}",
            self.mode,
            self.concurrency,
            self.rate
                .map(|r| format!(", paced at {r} req/s"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "duration      {:.3} s (warm-up {} s not counted)",
            self.duration_secs, self.warmup_secs
        );
        let _ = writeln!(
            out,
            "requests      {} ({} ok, {} errors)",
            self.requests, self.ok, self.errors
        );
        let _ = writeln!(out, "throughput    {:.1} ok req/s", self.rps);
        let _ = writeln!(out, "connections   {}", self.connections);
        if let Some(f) = self.forms {
            let _ = writeln!(
                out,
                "forms file    {} of {} lines used{}",
                f.used,
                f.lines,
                if f.exhausted {
                    " (ran out: the run ended early)"
                } else {
                    ""
                }
            );
        }
        let _ = writeln!(out, "body bytes    {}", self.body_bytes);
        let _ = writeln!(
            out,
            "latency ms    p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}  mean {:.3}",
            l.p50, l.p90, l.p99, l.max, l.mean
        );
        if let Some(total) = self.server_cpu_us_per_request {
            let each: Vec<String> = self
                .server_cpu
                .iter()
                .map(|p| match p.us_per_request {
                    Some(us) => format!("pid {} {us:.2}", p.pid),
                    None => format!("pid {} -", p.pid),
                })
                .collect();
            let _ = writeln!(
                out,
                "server CPU    {total:.2} µs/request ({})",
                each.join(", ")
            );
        }
        if self.errors > 0 {
            let _ = writeln!(
                out,
                "errors        connect {}  tls {}  http {}  status {}  timeout {}",
                e.connect, e.tls, e.http, e.status, e.timeout
            );
            for sample in &self.error_samples {
                let _ = writeln!(out, "  e.g.        {sample}");
            }
        }
        out
    }
}
