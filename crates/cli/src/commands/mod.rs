//! One module per top-level subcommand.

mod pki;

use clap::Subcommand;

/// Top-level subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Development PKI: create a CA, issue and inspect certificates.
    #[command(subcommand)]
    Pki(pki::PkiCommand),
}

/// Runs a parsed command.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Pki(cmd) => pki::run(cmd),
    }
}
