//! `certbound keys list | rotate | new-kek | rewrap`.

use std::path::PathBuf;

use anyhow::Context;
use certbound_server::kek::{KeyEncryption, KeyEncryptionKey};
use certbound_store::{Store, StoreError};
use clap::Subcommand;

/// `certbound keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys: the next one (published, not yet signing), the
    /// active one and retiring ones still published.
    List {
        /// Config file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Publish a new key, which signs once `keys.prepublish_seconds` have
    /// passed; the old one stays in the JWKS until its tokens expire.
    Rotate {
        /// Config file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Sign with the new key at once, without publishing it first (a
        /// compromised key): verifiers that have not fetched it yet refuse
        /// the new tokens until they do.
        #[arg(long)]
        now: bool,
    },
    /// Make a new key-encryption key (32 random bytes, base64url), the key
    /// the signing keys are stored sealed under.
    NewKek {
        /// Write it to this new file (owner-only; never overwritten) instead
        /// of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Reseal every signing key under the current key-encryption key
    /// (`keys.kek_file` or CERTBOUND_KEK), opening them with it or one of
    /// `keys.previous_kek_files`; seals keys an earlier version stored unsealed.
    Rewrap {
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
            let signing = certbound_server::keys::signing_key(&keys, now).map(|k| k.kid.clone());
            for k in keys {
                // A key retired before its time came (`rotate --now` while
                // it waited) never signs: it is only still published.
                let superseded = k.retired_at.is_some_and(|at| at <= k.activates_at);
                let state = if signing.as_deref() == Some(k.kid.as_str()) {
                    match k.retired_at {
                        Some(at) => format!("active, retiring in {}s", at - now),
                        None => "active".to_owned(),
                    }
                } else if k.activates_at > now && !superseded {
                    format!("next, signs in {}s", k.activates_at - now)
                } else if let Some(until) = k.publish_until.filter(|&u| u > now) {
                    format!("retiring, published for {}s more", until - now)
                } else if k.retired_at.is_none() {
                    "published, not signing".to_owned()
                } else {
                    "retired, unpublished".to_owned()
                };
                let used = if k.max_token_ttl > 0 {
                    format!(
                        "  tokens up to {}s (+{}s key cache)",
                        k.max_token_ttl, k.max_signing_lag
                    )
                } else {
                    "  no server use recorded".to_owned()
                };
                let sealed = k
                    .kek_id
                    .as_deref()
                    .map_or("UNSEALED (run `certbound keys rewrap`)".to_owned(), |id| {
                        format!("sealed under KEK {id}")
                    });
                println!(
                    "{}  {:<5}  created {}  {state}{used}  {sealed}",
                    k.kid, k.alg, k.created_at
                );
            }
            Ok(())
        }
        KeysCommand::Rotate { config, now } => {
            let (cfg, store) = super::open_store(config.as_deref()).await?;
            let kek = KeyEncryption::from_config(&cfg.keys)?;
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
            let prepublish = if now {
                0
            } else {
                i64::try_from(cfg.keys.prepublish_seconds()).unwrap_or(i64::MAX)
            };
            let key = certbound_server::keys::rotate(
                &store,
                &kek,
                cfg.tokens.signing_alg,
                publish_for,
                prepublish,
            )
            .await?;
            let until = store
                .signing_keys()
                .await?
                .iter()
                .find(|k| k.kid == old.kid)
                .and_then(|k| k.publish_until.zip(k.retired_at))
                .map_or(publish_for, |(until, at)| until - at);
            let when = if prepublish == 0 {
                "signs from now on".to_owned()
            } else {
                format!(
                    "is published now and signs in {prepublish}s (keys.prepublish_seconds), when {} retires",
                    old.kid
                )
            };
            println!(
                "new key {} ({}) {when}; the previous key stays published for {until}s \
                 after that (longest token lifetime the servers recorded for it: {}s)",
                key.kid, key.alg, old.max_token_ttl
            );
            Ok(())
        }
        KeysCommand::NewKek { out: Some(path) } => {
            let kek = KeyEncryptionKey::create_file(&path)?;
            println!(
                "wrote key-encryption key {} to {} (owner-only); set keys.kek_file to it",
                kek.id(),
                path.display()
            );
            Ok(())
        }
        KeysCommand::NewKek { out: None } => {
            let (_, text) = KeyEncryptionKey::generate()?;
            println!("{text}");
            Ok(())
        }
        KeysCommand::Rewrap { config } => {
            let (cfg, store) = super::open_store(config.as_deref()).await?;
            let kek = KeyEncryption::from_config(&cfg.keys)?;
            let keys = store.signing_keys().await?;
            // Every key is opened before anything is written: a key no
            // configured KEK opens stops the rewrap with the store unchanged.
            let resealed = keys
                .iter()
                .filter_map(|k| kek.reseal(k).transpose())
                .collect::<Result<Vec<_>, _>>()
                .context("nothing was resealed")?;
            let written = store.reseal_signing_keys(&resealed).await?;
            // Also when nothing needed resealing: an earlier rewrap's
            // compaction may have been blocked, and this one finishes it.
            match store.compact_signing_keys().await {
                Ok(()) => {}
                Err(StoreError::CheckpointBusy { .. }) => eprintln!(
                    "warning: the keys are resealed, but another connection (a running server?) \
                     kept SQLite from checkpointing its WAL: the old key material may remain in \
                     the database's -wal file until the server is stopped and \
                     `certbound keys rewrap` (or `PRAGMA wal_checkpoint(TRUNCATE)`) runs again"
                ),
                Err(e) => eprintln!(
                    "warning: the keys are resealed, but compacting the table failed ({e}): \
                     the replaced values may linger in the database files until its next VACUUM"
                ),
            }
            println!(
                "resealed {written} of {} signing keys under key-encryption key {}",
                keys.len(),
                kek.current_id()
            );
            Ok(())
        }
    }
}
