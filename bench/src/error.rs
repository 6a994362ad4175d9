//! The one error type of the crate, with the exit code each failure maps to.

use std::net::SocketAddr;
use std::path::PathBuf;

use thiserror::Error;

/// Everything that can stop `certbound-bench` before or while it runs.
///
/// Per-request failures during a load run are not errors of this type: they
/// are counted in the report and the run goes on.
#[derive(Debug, Error)]
pub enum BenchError {
    /// The `--url` could not be used.
    #[error("invalid URL '{url}': {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong and what to give instead.
        reason: String,
    },
    /// A target or listen address is not on this machine's loopback interface.
    #[error(
        "refusing '{host}': it is not a loopback address ({resolved}); \
         certbound-bench only talks to 127.0.0.0/8, ::1 or localhost"
    )]
    NotLoopback {
        /// The host or address as given.
        host: String,
        /// What it resolved to.
        resolved: String,
    },
    /// The target host name could not be resolved.
    #[error("cannot resolve '{host}': {reason}")]
    Resolve {
        /// The host name.
        host: String,
        /// Why resolution failed.
        reason: String,
    },
    /// A combination or value of command-line options is not usable.
    #[error("{0}")]
    Usage(String),
    /// A PEM file could not be loaded.
    #[error(transparent)]
    Pem(#[from] certbound_tls::TlsError),
    /// rustls refused a configuration (e.g. the key does not match the certificate).
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
    /// A CA file holds a certificate unusable as a trust anchor.
    #[error("{}: {reason}", .path.display())]
    BadCa {
        /// The CA file.
        path: PathBuf,
        /// What rustls said.
        reason: String,
    },
    /// A file named on the command line could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A listener could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A `--cpu-of` process could not be read (gone, or not ours to read).
    #[error("cannot read the CPU time of process {pid}: {reason}")]
    CpuOf {
        /// The process id as given.
        pid: u32,
        /// What procfs said.
        reason: String,
    },
    /// A signing key could not be made or used (`sign`).
    #[error("signing: {0}")]
    Sign(String),
    /// The report could not be written.
    #[error("cannot write {}: {source}", .path.display())]
    WriteOutput {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The tokio runtime or a signal handler could not be set up.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    /// A load worker task panicked or was cancelled.
    #[error("a load worker failed: {0}")]
    Worker(String),
    /// Latency histograms could not be created or merged.
    #[error("latency histogram: {0}")]
    Histogram(String),
    /// The report could not be encoded as JSON.
    #[error("cannot encode the report: {0}")]
    Json(#[from] serde_json::Error),
}

impl BenchError {
    /// 2 for anything the user can fix on the command line, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::BadUrl { .. }
            | Self::NotLoopback { .. }
            | Self::Resolve { .. }
            | Self::Usage(_)
            | Self::Pem(_)
            | Self::Rustls(_)
            | Self::BadCa { .. }
            | Self::ReadFile { .. }
            | Self::CpuOf { .. } => 2,
            Self::Bind { .. }
            | Self::WriteOutput { .. }
            | Self::Runtime(_)
            | Self::Worker(_)
            | Self::Histogram(_)
            | Self::Sign(_)
            | Self::Json(_) => 1,
        }
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = BenchError> = std::result::Result<T, E>;
