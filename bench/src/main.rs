//! `certbound-bench`: a loopback-only HTTP/1.1 load generator over mTLS
//! (`load`), the fixed-body reference server it is compared against
//! (`fixed-server`), and the cost of one token signature (`sign`).

mod error;
mod load;
mod output;
mod server;
mod sign;
mod target;
mod tls;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use error::{BenchError, Result};

/// Loopback-only mTLS load generator and fixed-body reference server.
#[derive(Debug, Parser)]
#[command(name = "certbound-bench", version, about, propagate_version = true)]
struct Cli {
    /// Tokio worker threads [default: number of CPUs].
    #[arg(long, global = true,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send HTTP/1.1 requests over (m)TLS and report throughput and latency.
    Load(Box<load::LoadArgs>),
    /// Answer every request with 200 and a fixed JSON body (TLS ceiling / upstream).
    FixedServer(server::ServerArgs),
    /// Sign access tokens back to back on one thread and report the cost of one.
    Sign(sign::SignArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("certbound-bench: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Load(args) => {
            // Everything the user can get wrong is checked before any thread starts.
            let plan = load::Plan::from_args(&args)?;
            let report = runtime(cli.threads)?.block_on(load::run(plan))?;
            load::emit(&report, args.format, args.output.as_deref())
        }
        Command::FixedServer(args) => runtime(cli.threads)?.block_on(server::run(args)),
        Command::Sign(args) => sign::emit(&sign::run(&args)?, args.format, args.output.as_deref()),
    }
}

/// A multi-thread tokio runtime with `threads` workers (default: CPUs).
fn runtime(threads: Option<u16>) -> Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        builder.worker_threads(usize::from(n));
    }
    builder.enable_all().build().map_err(BenchError::Runtime)
}
