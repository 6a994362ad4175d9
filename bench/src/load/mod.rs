//! `certbound-bench load`: an HTTP/1.1 load generator over (m)TLS.
//!
//! `concurrency` workers each run requests back to back, on one reused
//! connection (keep-alive) or a fresh TCP+TLS connection per request
//! (`--new-connection`). Every request outcome is counted; failures never stop
//! the run.

mod plan;
mod report;
mod stats;
mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::{Args, ValueEnum};

use crate::error::{BenchError, Result};
pub use plan::Plan;
pub use report::Report;

/// The largest `--duration`, `--warmup` and `--timeout`, in seconds.
pub const MAX_SECS: f64 = 600.0;
/// The largest `--requests`.
pub const MAX_REQUESTS: u64 = 10_000_000;

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable lines.
    Table,
    /// One JSON object.
    Json,
}

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
}

/// Seconds in (0, 600].
fn parse_secs(s: &str) -> std::result::Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if v.is_finite() && v > 0.0 && v <= MAX_SECS {
        Ok(v)
    } else {
        Err(format!(
            "must be more than 0 and at most {MAX_SECS} seconds"
        ))
    }
}

/// Seconds in [0, 600].
fn parse_secs_or_zero(s: &str) -> std::result::Result<f64, String> {
    if s.parse::<f64>().is_ok_and(|v| v == 0.0) {
        Ok(0.0)
    } else {
        parse_secs(s)
    }
}

/// Runs the load described by `plan` and returns the merged report.
pub async fn run(plan: Plan) -> Result<Report> {
    let plan = Arc::new(plan);
    let measure_start = Instant::now() + plan.warmup;
    let shared = Arc::new(worker::Shared::new(plan.clone(), measure_start));
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
    Ok(Report::new(&plan, &total, &shared, elapsed))
}

/// Prints the report and writes `--output`.
pub fn emit(report: &Report, format: Format, output: Option<&std::path::Path>) -> Result<()> {
    let json = serde_json::to_string_pretty(report)?;
    if let Some(path) = output {
        std::fs::write(path, format!("{json}\n")).map_err(|source| BenchError::WriteOutput {
            path: path.to_owned(),
            source,
        })?;
    }
    match format {
        Format::Json => println!("{json}"),
        Format::Table => print!("{}", report.table()),
    }
    Ok(())
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
}
