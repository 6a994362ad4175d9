//! First start: `certbound serve` in a directory without configuration
//! creates `./certbound-data/` with a dev PKI, a config file, an SQLite
//! database, a signing key and one demo client, then prints the curl line
//! that gets a token.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use certbound_core::{AuthMethod, DistinguishedName};
use certbound_pki::{CertificateRequest, KeyAlgorithm, WriteMode};
use certbound_server::clients::ClientMetadata;
use certbound_server::config;
use certbound_server::kek::KeyEncryptionKey;
use certbound_store::Store;

/// The demo client registered on first start.
pub const DEMO_CLIENT_ID: &str = "demo-client";
/// Where first start writes everything.
pub const DATA_DIR: &str = "certbound-data";
/// The config file name inside it.
pub const CONFIG_FILE: &str = "certbound.toml";
/// The dev key-encryption key file inside it.
pub const KEK_FILE: &str = "kek";

/// Creates the data directory's files; returns the config path.
pub fn create_data_dir(dir: &Path, mtls_addr: &str) -> anyhow::Result<PathBuf> {
    // Owner-only from the start: it will hold the CA key and the database
    // with the signing keys.
    let what = || format!("create {} owner-only", dir.display());
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(what)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).with_context(what)?;
    let pki = dir.join("pki");
    certbound_pki::init_dir(&pki, KeyAlgorithm::EcdsaP256, WriteMode::CreateNew)?;
    let request = CertificateRequest {
        common_name: Some(DEMO_CLIENT_ID.into()),
        organization: Some("certbound demo".into()),
        ..CertificateRequest::default()
    };
    certbound_pki::issue_into_dir(&pki, DEMO_CLIENT_ID, &request, false, WriteMode::CreateNew)?;
    dev_kek(dir)?;
    let path = dir.join(CONFIG_FILE);
    certbound_pki::write_file(
        &path,
        config::dev_config_text(mtls_addr).as_bytes(),
        true,
        WriteMode::CreateNew,
    )?;
    Ok(path)
}

/// The dev data directory's key-encryption key file, created owner-only
/// (and said so) if it does not exist yet.
pub fn dev_kek(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join(KEK_FILE);
    if !path.exists() {
        let kek = KeyEncryptionKey::create_file(&path)?;
        eprintln!(
            "generated a key-encryption key (id {}) in {} (owner-only): the signing keys are \
             sealed under it; keep it apart from database backups",
            kek.id(),
            path.display()
        );
    }
    Ok(path)
}

/// Registers the demo client (`tls_client_auth` by subject DN) if absent.
pub async fn register_demo_client(store: &dyn Store) -> anyhow::Result<()> {
    if store.client(DEMO_CLIENT_ID).await?.is_some() {
        return Ok(());
    }
    let mut metadata = ClientMetadata::new(AuthMethod::TlsClientAuth);
    let dn = DistinguishedName::parse("CN=demo-client,O=certbound demo")
        .context("the demo client's subject DN")?;
    metadata.tls_client_auth_subject_dn = Some(dn.to_string());
    metadata.scope = "demo.read demo.write".into();
    certbound_server::register_client(store, DEMO_CLIENT_ID, metadata, None).await?;
    Ok(())
}

/// The curl command that gets a token from a freshly initialised server.
pub fn curl_command(data_dir: &Path, mtls_url: &str) -> String {
    let pki = data_dir.join("pki");
    format!(
        "curl --cacert {ca} --cert {cert} --key {key} -d grant_type=client_credentials -d client_id={DEMO_CLIENT_ID} {mtls_url}/token",
        ca = pki.join("ca.pem").display(),
        cert = pki.join(format!("{DEMO_CLIENT_ID}.pem")).display(),
        key = pki.join(format!("{DEMO_CLIENT_ID}.key")).display(),
    )
}
