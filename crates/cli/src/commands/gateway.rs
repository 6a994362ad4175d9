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

/// Runs the gateway until Ctrl-C or SIGTERM. It serves at once, answering
/// 503 until the authorization server has been reached.
pub async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    let mut shutdown = super::signal::listen();
    let config = certbound_gateway::GatewayConfig::load(&args.config)?;
    let gateway = certbound_gateway::start(config)
        .await
        .context("starting the gateway")?;
    eprintln!(
        "certbound gateway listening on {} (503 until the authorization server is reached)",
        gateway.addr
    );
    {
        let mut stop = std::pin::pin!(shutdown.received());
        tokio::select! {
            ready = gateway.ready() => {
                if ready {
                    eprintln!("certbound gateway ready on {}", gateway.addr);
                }
                stop.await;
            }
            () = &mut stop => {}
        }
    }
    eprintln!("shutting down");
    // A second signal cuts the delay and the drain short.
    tokio::select! {
        () = gateway.stop() => {}
        () = shutdown.received() => eprintln!("second signal: stopping now"),
    }
    Ok(())
}
