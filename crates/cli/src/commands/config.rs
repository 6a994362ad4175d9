//! `certbound config init | check`.

use std::path::PathBuf;

use anyhow::Context;
use certbound_pki::WriteMode;
use clap::Subcommand;

/// `certbound config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Write a commented starter certbound.toml.
    Init {
        /// Where to write it.
        #[arg(long, default_value = "certbound.toml")]
        path: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Validate a configuration and the files it names; names the bad key.
    Check {
        /// The file (default: ./certbound.toml or ./certbound-data/certbound.toml).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Runs a `config` subcommand.
pub fn run(cmd: ConfigCommand) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Init { path, force } => {
            let mode = if force {
                WriteMode::Overwrite
            } else {
                WriteMode::CreateNew
            };
            certbound_pki::write_file(
                &path,
                certbound_server::config::dev_config_text("127.0.0.1:8443").as_bytes(),
                false,
                mode,
            )?;
            println!(
                "wrote {}; it expects a PKI in ./pki (`certbound pki init --dir pki`) and a \
                 key-encryption key in ./kek (`certbound keys new-kek --out kek`)",
                path.display()
            );
            Ok(())
        }
        ConfigCommand::Check { config } => {
            let path = super::config_path(config.as_deref())
                .context("no configuration file found; pass --config FILE")?;
            let cfg = super::load_config_file(&path)?;
            for (key, file) in [
                ("tls.cert", &cfg.tls.cert),
                ("tls.key", &cfg.tls.key),
                ("tls.client_ca", &cfg.tls.client_ca),
            ] {
                if let Some(file) = file {
                    let ok = if key == "tls.key" {
                        certbound_tls::pem::load_private_key(file).map(|_| ())
                    } else {
                        certbound_tls::pem::load_certificates(file).map(|_| ())
                    };
                    ok.with_context(|| format!("{}: key `{key}`", path.display()))?;
                }
            }
            let kek = certbound_server::kek::KeyEncryption::from_config(&cfg.keys)
                .with_context(|| format!("{}: key `keys.kek_file`", path.display()))?;
            println!(
                "{}: ok (storage {}, key-encryption key {})",
                path.display(),
                super::redact(&cfg.storage.url),
                kek.current_id()
            );
            Ok(())
        }
    }
}
