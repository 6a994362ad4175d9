//! `certbound-bench load`: an HTTP/1.1 load generator over (m)TLS.
//!
//! `concurrency` workers each run requests back to back, on one reused
//! connection (keep-alive) or a fresh TCP+TLS connection per request
//! (`--new-connection`). Every request outcome is counted; failures never stop
//! the run.

mod cpu;
mod plan;
mod report;
mod stats;
mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;

use crate::error::{BenchError, Result};
use crate::output::{Format, parse_secs_upto};
pub use plan::Plan;
pub use report::Report;

/// The largest `--duration`, `--warmup` and `--timeout`, in seconds.
pub const MAX_SECS: f64 = 600.0;
/// The largest `--requests`.
pub const MAX_REQUESTS: u64 = 10_000_000;
/// The largest `--rate`, requests per second.
pub const MAX_RATE: f64 = 1_000_000.0;

/// Options of `certbound-bench load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Target: https://127.0.0.1:PORT/path (or http:// for plain); loopback only.
    #[arg(long)]
    pub url: String,
    /// Client certificate (PEM) to present; requires --key.
    #[arg(long, requires = "key")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of --cert.
    #[arg(long, requires = "cert")]
    pub key: Option<PathBuf>,
    /// CA certificate(s) (PEM) to trust the server with; required for https.
    #[arg(long)]
    pub cacert: Option<PathBuf>,
    /// Concurrent workers (connections in keep-alive mode), 1..=1024.
    #[arg(short = 'c', long, default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: u32,
    /// Measure for this many seconds (max 600).
    #[arg(short = 'd', long, value_parser = parse_secs)]
    pub duration: Option<f64>,
    /// Measure this many requests (max 10,000,000); with --duration, whichever ends first.
    #[arg(short = 'n', long,
          value_parser = clap::value_parser!(u64).range(1..=MAX_REQUESTS))]
    pub requests: Option<u64>,
    /// Seconds of load before measuring, not counted.
    #[arg(long, default_value_t = 0.0, value_parser = parse_secs_or_zero)]
    pub warmup: f64,
    /// Send this many requests per second, all workers together, on a fixed
    /// schedule from the start (warm-up included) instead of back to back;
    /// a worker behind schedule sends at once. Latency runs from the send.
    #[arg(long, value_name = "REQ_PER_SEC", value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Open a fresh TCP+TLS connection (full handshake, no resumption) per
    /// request and send `Connection: close`.
    #[arg(long)]
    pub new_connection: bool,
    /// HTTP method [default: GET, or POST with --form/--json].
    #[arg(short = 'X', long)]
    pub method: Option<String>,
    /// Form body 'a=b&c=d' (content-type application/x-www-form-urlencoded).
    #[arg(long, conflicts_with = "json")]
    pub form: Option<String>,
    /// JSON body (content-type application/json).
    #[arg(long)]
    pub json: Option<String>,
    /// Form bodies, one per line (for single-use values such as
    /// authorization codes): each request, warm-up included, takes the next
    /// unused line, never one twice; when none is left the run ends.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["form", "json"])]
    pub forms_file: Option<PathBuf>,
    /// Send `Authorization: Bearer TOKEN`.
    #[arg(long, conflicts_with = "bearer_file")]
    pub bearer: Option<String>,
    /// Read the bearer token from a file (surrounding whitespace trimmed).
    #[arg(long)]
    pub bearer_file: Option<PathBuf>,
    /// Extra header 'Name: value'; repeatable.
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// The status that counts as success; any other is an error.
    #[arg(long, default_value_t = 200)]
    pub expect_status: u16,
    /// Per-request timeout in seconds (counted as an error).
    #[arg(long, default_value_t = 10.0, value_parser = parse_secs)]
    pub timeout: f64,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Also write the JSON report to this file.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Report the CPU time this process (a server under load) used while
    /// the run measured, per request; repeatable.
    #[arg(long = "cpu-of", value_name = "PID")]
    pub cpu_of: Vec<u32>,
}

/// Seconds in (0, 600].
pub fn parse_secs(s: &str) -> std::result::Result<f64, String> {
    parse_secs_upto(s, MAX_SECS)
}

/// Seconds in [0, 600].
fn parse_secs_or_zero(s: &str) -> std::result::Result<f64, String> {
    if s.parse::<f64>().is_ok_and(|v| v == 0.0) {
        Ok(0.0)
    } else {
        parse_secs(s)
    }
}

/// Requests per second in (0, 1,000,000].
fn parse_rate(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= MAX_RATE => Ok(v),
        _ => Err(format!("expected requests per second in (0, {MAX_RATE}]")),
    }
}

/// Runs the load described by `plan` and returns the merged report.
pub async fn run(plan: Plan) -> Result<Report> {
    let plan = Arc::new(plan);
    let measure_start = Instant::now() + plan.warmup;
    let shared = Arc::new(worker::Shared::new(plan.clone(), measure_start));
    let cpu_start = tokio::spawn({
        let watched = plan.cpu_of.clone();
        async move {
            tokio::time::sleep_until(measure_start.into()).await;
            cpu::sample(&watched)
        }
    });
    let handles: Vec<_> = (0..plan.concurrency)
        .map(|_| tokio::spawn(worker::run(shared.clone())))
        .collect();
    let mut total = stats::WorkerStats::new()?;
    for handle in handles {
        let worker = handle
            .await
            .map_err(|e| BenchError::Worker(e.to_string()))??;
        total.merge(&worker)?;
    }
    let elapsed = Instant::now().saturating_duration_since(measure_start);
    let cpu_end = cpu::sample(&plan.cpu_of)?;
    let cpu_start = cpu_start
        .await
        .map_err(|e| BenchError::Worker(format!("the CPU sampler: {e}")))??;
    let mut report = Report::new(&plan, &total, &shared, elapsed);
    report.add_server_cpu(cpu::spent(
        &plan.cpu_of,
        &cpu_start,
        &cpu_end,
        report.requests,
    ));
    Ok(report)
}

/// Prints the report and writes `--output`.
pub fn emit(report: &Report, format: Format, output: Option<&std::path::Path>) -> Result<()> {
    crate::output::emit(report, || report.table(), format, output)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_bounded() {
        assert_eq!(parse_secs("1.5"), Ok(1.5));
        assert!(parse_secs("0").is_err());
        assert!(parse_secs("601").is_err());
        assert!(parse_secs("NaN").is_err());
        assert!(parse_secs("-1").is_err());
        assert_eq!(parse_secs_or_zero("0"), Ok(0.0));
        assert_eq!(parse_secs_or_zero("2"), Ok(2.0));
    }

    #[test]
    fn rates_are_bounded() {
        assert_eq!(parse_rate("0.5"), Ok(0.5));
        assert_eq!(parse_rate("1000000"), Ok(MAX_RATE));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("-3").is_err());
        assert!(parse_rate("1000001").is_err());
        assert!(parse_rate("NaN").is_err());
        assert!(parse_rate("inf").is_err());
    }
}
