//! The certbound OAuth 2.0 authorization server: RFC 8705 mutual-TLS client
//! authentication and certificate-bound access tokens, as an axum router you
//! can serve with [`start`] or embed with [`endpoints::router`].

mod aead;
pub mod audit;
pub mod authorize;
pub mod clients;
pub mod config;
pub mod endpoints;
mod error;
pub mod file_modes;
pub mod form;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod grants;
pub mod kek;
pub mod keys;
pub mod rate_limit;
mod run;
pub mod tokens;
pub mod users;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use certbound_store::Store;
use ring::rand::{SecureRandom, SystemRandom};

pub use config::Config;
pub use error::{OAuthError, ServerError};
pub use run::{RunningServer, start, start_with_clock};

use clients::{ClientCache, RegisteredClient};
use keys::KeyCache;

/// Request-independent settings derived from the configuration at start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `iss`.
    pub issuer: String,
    /// `aud` for clients without their own.
    pub default_audience: String,
    /// Access-token lifetime, seconds.
    pub access_token_ttl: i64,
    /// Whether secret-based client authentication is allowed.
    pub allow_client_secret: bool,
    /// Refresh-token lifetimes and rotation.
    pub refresh: config::RefreshTokensConfig,
}

/// Shared state of one authorization-server instance.
pub struct AuthorizationServer {
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// Signing keys.
    pub keys: KeyCache,
    /// Parsed client records.
    pub clients: ClientCache,
    /// Settings.
    pub settings: Settings,
    /// The RFC 8414 document, serialised once.
    pub metadata_json: String,
    /// `/authorize`, login and consent: settings and per-instance state.
    pub front_channel: authorize::FrontChannel,
    /// Request budgets per address and per client (per instance).
    pub rate_limits: rate_limit::RateLimits,
    /// Set when shutdown begins: `/readyz` answers 503 from then on.
    pub draining: std::sync::atomic::AtomicBool,
}

impl AuthorizationServer {
    /// Looks up a client: from the cache, or from the store (then cached
    /// until the store reports a client change; see [`ClientCache`]).
    pub async fn client(
        &self,
        client_id: &str,
    ) -> Result<Option<Arc<RegisteredClient>>, OAuthError> {
        if let Some(client) = self.clients.get(client_id) {
            return Ok(Some(client));
        }
        let epoch = self.clients.epoch();
        match self.store.client(client_id).await? {
            Some(stored) => {
                let client = Arc::new(RegisteredClient::from_stored(stored)?);
                self.clients.insert(epoch, Arc::clone(&client));
                Ok(Some(client))
            }
            None => Ok(None),
        }
    }
}

/// Current Unix time in seconds.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A fresh token id (`jti`, 128 bits). Ids must be unique, not secret, so
/// they come from the thread's CSPRNG (ChaCha12, seeded and periodically
/// reseeded from the OS) instead of costing a system call per token.
pub(crate) fn new_jti() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

/// `N` bytes from the system CSPRNG, for secrets (opaque tokens, client secrets).
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], ServerError> {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| ServerError::Key("the system random number generator failed".into()))?;
    Ok(out)
}

/// Registers a client after validating its metadata; returns the client.
pub async fn register_client(
    store: &dyn Store,
    client_id: &str,
    metadata: clients::ClientMetadata,
    secret_hash: Option<String>,
) -> Result<RegisteredClient, ServerError> {
    let client = RegisteredClient::from_metadata(client_id, metadata, secret_hash)?;
    match store.create_client(&client.to_stored(now())?).await {
        Ok(()) => Ok(client),
        Err(source @ certbound_store::StoreError::Conflict { .. }) => {
            Err(ServerError::ClientExists {
                client_id: client_id.to_owned(),
                source,
            })
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    #[test]
    fn token_ids_are_128_bit_base64url_and_distinct() {
        let ids: HashSet<String> = (0..10_000).map(|_| super::new_jti()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in &ids {
            assert_eq!(id.len(), 22, "{id}");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{id}"
            );
        }
        // Ids made on another thread come from another generator state.
        let other = std::thread::spawn(super::new_jti)
            .join()
            .unwrap_or_default();
        assert!(!ids.contains(&other));
    }
}
