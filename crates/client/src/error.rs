use thiserror::Error;

/// What went wrong talking to an authorization server or a resource.
///
/// `Clone` so that callers sharing one token fetch can all receive its failure.
#[derive(Debug, Clone, Error)]
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
    /// The token endpoint answered, but not with a usable token response.
    #[error(
        "the token endpoint {url} sent an unusable token response: {reason}; is this an OAuth 2.0 authorization server?"
    )]
    BadTokenResponse {
        /// Token endpoint.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The token endpoint refused to issue a token to this client.
    #[error(
        "the token endpoint {url} refused client '{client_id}': {status} {error}: {description}{}",
        refusal_hint(error)
    )]
    TokenRefused {
        /// Token endpoint.
        url: String,
        /// The `client_id` used.
        client_id: String,
        /// HTTP status.
        status: u16,
        /// OAuth `error`.
        error: String,
        /// OAuth `error_description`.
        description: String,
    },
    /// The TLS settings carry no client certificate, so no token could be bound.
    #[error(
        "no client certificate configured: certificate-bound tokens need a certificate and key (TlsSettings with an identity)"
    )]
    NoIdentity,
    /// A request to a resource could not be built.
    #[error("cannot send a request to {url}: {reason}")]
    InvalidRequest {
        /// The URL as given.
        url: String,
        /// What is wrong and what to do.
        reason: String,
    },
}

/// What to do about a refused token request, by OAuth error code.
fn refusal_hint(error: &str) -> &'static str {
    match error {
        "invalid_client" | "unauthorized_client" => {
            " (check the client_id and that the client is registered for this certificate)"
        }
        "invalid_scope" => " (request only scopes registered for the client)",
        _ => "",
    }
}

impl From<certbound_tls::TlsError> for ClientError {
    fn from(e: certbound_tls::TlsError) -> Self {
        // Kept as text: ClientError is Clone (shared token fetches), TlsError is not.
        Self::Tls(e.to_string())
    }
}
