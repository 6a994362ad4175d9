use thiserror::Error;

/// What went wrong talking to an authorization server.
#[derive(Debug, Error)]
pub enum ClientError {
    /// Certificate, key or CA files are unusable.
    #[error("TLS setup: {0}")]
    Tls(String),
    /// The server could not be reached or the connection failed.
    #[error("could not reach {url}: {reason}")]
    Transport {
        /// The URL.
        url: String,
        /// Why, including TLS handshake failures.
        reason: String,
    },
    /// The metadata document is missing or unusable.
    #[error("discovery at {url}: {reason}")]
    Discovery {
        /// Metadata URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The server answered with an OAuth error.
    #[error("{status} {error}: {description}")]
    OAuth {
        /// HTTP status.
        status: u16,
        /// `error`.
        error: String,
        /// `error_description`.
        description: String,
    },
}
