//! One module per top-level subcommand.

mod call;
mod client_args;
mod clients;
mod config;
mod demo;
mod gateway;
mod init;
mod keys;
mod pki;
mod serve;
mod signal;
mod token;
mod users;

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;

/// Top-level subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Walk through the whole story on loopback: bound token, replay refused, revocation.
    Demo,
    /// Run the authorization server (first run without config initialises ./certbound-data).
    Serve(serve::ServeArgs),
    /// Run the enforcement gateway (reverse proxy + nginx/Envoy check endpoint).
    Gateway(gateway::GatewayArgs),
    /// Development PKI: create a CA, issue and inspect certificates.
    #[command(subcommand)]
    Pki(pki::PkiCommand),
    /// Register, list, show and remove clients in the configured store.
    #[command(subcommand)]
    Clients(clients::ClientsCommand),
    /// Add, list, show, change and remove the users who sign in.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// List and rotate token-signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Write or validate a configuration file.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Get an access token with a client certificate and print it.
    Token(token::TokenArgs),
    /// Get a bound token and call a protected resource with it, like curl.
    Call(call::CallArgs),
}

/// Runs a parsed command.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Pki(cmd) => pki::run(cmd),
        Command::Config(cmd) => config::run(cmd),
        other => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(async move {
                match other {
                    Command::Serve(args) => serve::run(args).await,
                    Command::Gateway(args) => gateway::run(args).await,
                    Command::Demo => demo::run().await,
                    Command::Clients(cmd) => clients::run(cmd).await,
                    Command::Users(cmd) => users::run(cmd).await,
                    Command::Keys(cmd) => keys::run(cmd).await,
                    Command::Token(args) => token::run(args).await,
                    Command::Call(args) => call::run(args).await,
                    Command::Pki(_) | Command::Config(_) => Ok(()),
                }
            })
        }
    }
}

/// The config file to use: `--config`, else `./certbound.toml`, else
/// `./certbound-data/certbound.toml`.
pub fn config_path(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_owned());
    }
    [
        PathBuf::from(init::CONFIG_FILE),
        Path::new(init::DATA_DIR).join(init::CONFIG_FILE),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// Loads the configuration for commands that need one.
pub fn load_config(explicit: Option<&Path>) -> anyhow::Result<certbound_server::Config> {
    let path = config_path(explicit).context(
        "no configuration: pass --config FILE, or run `certbound serve` once to create ./certbound-data",
    )?;
    load_config_file(&path)
}

/// Loads `path`; a config in a `certbound-data` directory (the dev setup
/// first start makes) that names no key-encryption key gets
/// `certbound-data/kek`, created owner-only if it is not there yet. Any
/// other config must name its own.
pub fn load_config_file(path: &Path) -> anyhow::Result<certbound_server::Config> {
    let mut config = certbound_server::Config::load(path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let keys = &mut config.keys;
    if dir.ends_with(init::DATA_DIR) && keys.kek_file.is_none() && keys.kek_from_env().is_none() {
        keys.kek_file = Some(init::dev_kek(dir)?);
    }
    Ok(config)
}

/// Opens the configured store.
pub async fn open_store(
    explicit: Option<&Path>,
) -> anyhow::Result<(certbound_server::Config, certbound_store::SqlStore)> {
    let config = load_config(explicit)?;
    let store = certbound_store::SqlStore::connect(&config.storage.url)
        .await
        .with_context(|| format!("opening the store at {}", redact(&config.storage.url)))?;
    Ok((config, store))
}

/// A storage URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
