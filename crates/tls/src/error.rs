use std::path::PathBuf;

use thiserror::Error;

/// Failures setting up TLS: loading files, building rustls configurations.
#[derive(Debug, Error)]
pub enum TlsError {
    /// A PEM file could not be read or held nothing usable.
    #[error("{}: {reason}", .path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was wrong and what to give instead.
        reason: String,
    },
    /// rustls refused the configuration (e.g. the key does not match the certificate).
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
    /// A certificate in the client-CA bundle is unusable as a trust anchor.
    #[error("client CA bundle: {0}")]
    ClientCaBundle(String),
    /// An entry of `trusted_proxies` is not an IP address or CIDR block.
    #[error("trusted_proxies entry '{0}' is not an IP address or CIDR block (e.g. 10.0.0.0/8)")]
    BadProxyCidr(String),
    /// A listener setting is unusable; `key` is its dotted path in the file.
    #[error("key `{key}`: {message}")]
    Setting {
        /// Dotted key, e.g. `listeners.proxy.trusted_proxies`.
        key: String,
        /// What is wrong and what to write instead.
        message: String,
    },
    /// A listener's address could not be bound.
    #[error("{what}: {source}")]
    Bind {
        /// What was being done, naming the key to change.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// An environment override cannot be applied.
    #[error("environment variable {var}: {message}")]
    Override {
        /// The variable's name.
        var: String,
        /// What is wrong with it.
        message: String,
    },
}

/// A trusted proxy sent a certificate header we cannot use: answered with
/// 400 `invalid_request`, never passed on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("malformed {header} header: {reason}")]
pub struct ProxyHeaderError {
    /// The header's canonical name.
    pub header: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl ProxyHeaderError {
    pub(crate) fn new(header: &'static str, reason: impl Into<String>) -> Self {
        Self {
            header,
            reason: reason.into(),
        }
    }
}
