//! How a subcommand's report leaves the process: a table or JSON on stdout,
//! and the JSON in a file if asked.

use std::path::Path;

use clap::ValueEnum;
use serde::Serialize;

use crate::error::{BenchError, Result};

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable lines.
    Table,
    /// One JSON object.
    Json,
}

/// Prints `report` (as `table()` or JSON) and writes its JSON to `output`.
pub fn emit<R: Serialize>(
    report: &R,
    table: impl FnOnce() -> String,
    format: Format,
    output: Option<&Path>,
) -> Result<()> {
    let json = serde_json::to_string_pretty(report)?;
    if let Some(path) = output {
        std::fs::write(path, format!("{json}\n")).map_err(|source| BenchError::WriteOutput {
            path: path.to_owned(),
            source,
        })?;
    }
    match format {
        Format::Json => println!("{json}"),
        Format::Table => print!("{}", table()),
    }
    Ok(())
}

/// Seconds in (0, `max`].
pub fn parse_secs_upto(s: &str, max: f64) -> std::result::Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if v.is_finite() && v > 0.0 && v <= max {
        Ok(v)
    } else {
        Err(format!("must be more than 0 and at most {max} seconds"))
    }
}
