//! Where a client certificate comes from, for every request certbound serves:
//!
//! - an mTLS listener (rustls) that requests a certificate, checks proof of
//!   possession, accepts self-signed and CA-signed certificates alike and
//!   records whether the chain validated against the client-CA bundle;
//! - a TLS listener that never asks for one (browser-facing endpoints);
//! - a plain-HTTP listener behind a TLS-terminating proxy, taking the
//!   certificate from RFC 9440, nginx or Envoy headers only when the TCP peer
//!   is a trusted proxy.
//!
//! Each request a handler sees carries a [`ConnectionInfo`] and, when there is
//! one, the [`PeerCertificate`], computed once per connection.
//!
//! Configuration files describe a listener with [`ListenerSettings`] and
//! [`TlsFiles`]; [`bind_listener`] turns them into a running listener,
//! [`TlsReloader`] reloads their files on SIGHUP and when they change, and
//! [`overrides`] applies `CERTBOUND_*` environment overrides to a file.

mod admission;
mod chain;
mod client_settings;
mod config;
mod config_file;
mod error;
mod extract;
mod limits;
pub mod overrides;
mod peer;
pub mod pem;
pub mod proxy;
mod reload;
mod serve;
mod settings;
mod verifier;
mod watchdog;

pub use chain::{ChainStatus, ClientCaBundle};
pub use client_settings::{TlsSettings, describe_error_chain};
pub use config::{ClientAuth, server_config};
pub use config_file::{ConfigError, ConfigSource};
pub use error::{ProxyHeaderError, TlsError};
pub use extract::{CallerAddress, ConnectionInfo, forwarded_address};
pub use limits::{ConnectionLimits, ShutdownSettings};
pub use peer::{CertificateSource, PeerCertificate};
pub use proxy::{CertificateHeader, TrustedProxies};
pub use reload::{ReloadableMode, TlsReloader};
pub use serve::{App, ListenerMode, serve};
pub use settings::{
    BoundListener, ListenerKind, ListenerSettings, TlsFiles, bind_listener, check_public_url,
};

/// The crypto provider every certbound TLS endpoint uses.
pub fn crypto_provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}
