//! The arguments every command acting as an OAuth client shares.

use std::path::PathBuf;

use certbound_tls::{TlsError, TlsSettings};
use clap::Args;

/// Which authorization server, which identity, which client.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Issuer URL of the authorization server.
    #[arg(long)]
    pub as_url: String,
    /// Client certificate, PEM (also presented to resources).
    #[arg(long)]
    pub cert: PathBuf,
    /// Client private key, PEM.
    #[arg(long)]
    pub key: PathBuf,
    /// CA that signed the servers' certificates, PEM.
    #[arg(long)]
    pub cacert: Option<PathBuf>,
    /// client_id.
    #[arg(long)]
    pub client_id: String,
    /// Scopes to request, space-separated.
    #[arg(long)]
    pub scope: Option<String>,
}

impl ClientArgs {
    /// The TLS identity and trust these arguments name.
    pub fn tls(&self) -> Result<TlsSettings, TlsError> {
        TlsSettings::from_pem_files(self.cacert.as_deref(), Some((&self.cert, &self.key)))
    }
}
