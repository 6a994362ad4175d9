//! `certbound keys list | rotate`.

use std::path::PathBuf;

use certbound_store::Store;
use clap::Subcommand;

/// `certbound keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys: the active one and retired ones still published.
    List {
        /// Config file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Make a new key active; the old one stays in the JWKS until its tokens expire.
    Rotate {
        /// Config file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Runs a `keys` subcommand.
pub async fn run(cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::List { config } => {
            let (_, store) = super::open_store(config.as_deref()).await?;
            let keys = store.signing_keys().await?;
            if keys.is_empty() {
                println!("no signing keys yet: `certbound serve` creates one on first start");
            }
            let now = certbound_server::now();
            for k in keys {
                let state = match (k.retired_at, k.publish_until) {
                    (None, _) => "active".to_owned(),
                    (Some(_), Some(until)) if until > now => {
                        format!("retired, published for {}s more", until - now)
                    }
                    (Some(_), _) => "retired, unpublished".to_owned(),
                };
                let used = if k.max_token_ttl > 0 {
                    format!(
                        "  tokens up to {}s (+{}s key cache)",
                        k.max_token_ttl, k.max_signing_lag
                    )
                } else {
                    "  no server use recorded".to_owned()
                };
                println!(
                    "{}  {:<5}  created {}  {state}{used}",
                    k.kid, k.alg, k.created_at
                );
            }
            Ok(())
        }
        KeysCommand::Rotate { config } => {
            let (cfg, store) = super::open_store(config.as_deref()).await?;
            // At least a token lifetime plus a key-cache period by this
            // config; the store extends it to what the running servers
            // recorded for the key (their lifetime may differ from ours).
            let publish_for = i64::try_from(cfg.tokens.access_token_ttl + cfg.keys.cache_seconds)
                .unwrap_or(i64::MAX)
                .saturating_add(certbound_server::keys::ROTATION_MARGIN_SECONDS);
            let Some(old) = store
                .signing_keys()
                .await?
                .into_iter()
                .find(|k| k.retired_at.is_none())
            else {
                anyhow::bail!(
                    "no active signing key to rotate: start `certbound serve` once first"
                );
            };
            let key =
                certbound_server::keys::rotate(&store, cfg.tokens.signing_alg, publish_for).await?;
            let until = store
                .signing_keys()
                .await?
                .iter()
                .find(|k| k.kid == old.kid)
                .and_then(|k| k.publish_until.zip(k.retired_at))
                .map_or(publish_for, |(until, at)| until - at);
            println!(
                "new active key {} ({}); the previous key stays published for {until}s \
                 (longest token lifetime the servers recorded for it: {}s)",
                key.kid, key.alg, old.max_token_ttl
            );
            Ok(())
        }
    }
}
