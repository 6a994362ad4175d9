//! `certbound gateway`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

/// Arguments of `certbound gateway`.
#[derive(Debug, Args)]
pub struct GatewayArgs {
    /// Gateway configuration file (see docs/gateway.md); `CERTBOUND_GATEWAY__*`
    /// environment variables override its keys.
    #[arg(long, default_value = "gateway.toml")]
    config: PathBuf,
}

/// Runs the gateway until Ctrl-C or SIGTERM.
pub async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    let mut shutdown = super::signal::listen();
    let config = certbound_gateway::GatewayConfig::load(&args.config)?;
    // Start-up waits on the authorization server (discovery, keys): a
    // signal stops it rather than waiting for it.
    let gateway = tokio::select! {
        gateway = certbound_gateway::start(config) => gateway.context("starting the gateway")?,
        () = shutdown.received() => {
            eprintln!("stopped before start-up finished");
            return Ok(());
        }
    };
    eprintln!("certbound gateway ready on {}", gateway.addr);
    shutdown.received().await;
    eprintln!("shutting down");
    gateway.stop().await;
    Ok(())
}
