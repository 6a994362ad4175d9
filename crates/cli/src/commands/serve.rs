//! `certbound serve`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use super::init;

/// Arguments of `certbound serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Config file (default: ./certbound.toml, else ./certbound-data/certbound.toml;
    /// with neither, ./certbound-data is created).
    #[arg(long)]
    config: Option<PathBuf>,
}

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut shutdown = super::signal::listen();
    let (path, first_start) = match super::config_path(args.config.as_deref()) {
        Some(p) => (p, false),
        None => {
            let dir = Path::new(init::DATA_DIR);
            eprintln!(
                "no configuration found: initialising {} (dev PKI, config, SQLite, signing key)",
                dir.display()
            );
            let path = init::create_data_dir(dir, "127.0.0.1:8443")
                .context("initialising ./certbound-data")?;
            (path, true)
        }
    };
    let config = super::load_config_file(&path)?;
    certbound_server::file_modes::warn_if_too_open(&config, &path);
    let data_dir = path.parent().unwrap_or(Path::new("."));
    let start = async {
        let running = certbound_server::start(config)
            .await
            .context("starting the server")?;
        if first_start || data_dir.ends_with(init::DATA_DIR) {
            init::register_demo_client(running.server.store.as_ref()).await?;
        }
        anyhow::Ok(running)
    };
    // Start-up can wait seconds on an unreachable database: a signal then
    // stops it rather than waiting for it.
    let mut running = tokio::select! {
        running = start => running?,
        () = shutdown.received() => {
            eprintln!("stopped before start-up finished");
            return Ok(());
        }
    };
    if let Some(url) = &running.mtls_url {
        eprintln!("mtls listener {url}");
    }
    if let Some(addr) = running.public_addr {
        eprintln!("public listener https://localhost:{}", addr.port());
    }
    if let Some(addr) = running.proxy_addr {
        eprintln!("proxy listener http://{addr}");
    }
    eprintln!("certbound ready; issuer {}", running.issuer);
    let demo_cert = data_dir
        .join("pki")
        .join(format!("{}.pem", init::DEMO_CLIENT_ID));
    if let Some(url) = running.mtls_url.as_ref().filter(|_| demo_cert.is_file()) {
        eprintln!("get a certificate-bound token:");
        println!("{}", init::curl_command(data_dir, url));
    }
    tokio::select! {
        result = running.wait() => result.context("a listener failed")?,
        () = shutdown.received() => {
            eprintln!("shutting down");
            // A second signal cuts the delay and the drain short.
            tokio::select! {
                () = running.stop() => {}
                () = shutdown.received() => eprintln!("second signal: stopping now"),
            }
        }
    }
    Ok(())
}
