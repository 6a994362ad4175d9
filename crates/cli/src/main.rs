//! `certbound`: the command-line face of the certbound crates. Thin by
//! design: parse arguments, call a library, print the result.

mod commands;

use std::process::ExitCode;

use clap::Parser;

use commands::Command;

/// OAuth 2.0 mutual-TLS (RFC 8705) authorization server and gateway.
#[derive(Debug, Parser)]
#[command(name = "certbound", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match commands::run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: what failed and why; the context chain carries the fix.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("CERTBOUND_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        builder.init();
    } else {
        builder.json().init();
    }
}
