//! Persistence for certbound: one [`Store`] trait, implemented by
//! [`SqlStore`] on SQLite (default, a file in WAL mode) and PostgreSQL (for
//! several instances behind a load balancer). Both run the same embedded
//! migrations and the same SQL, so behaviour cannot drift between them.
//!
//! Values the server owns (client metadata, public JWKs) are stored as JSON
//! text the store does not interpret; times are Unix seconds.

mod error;
mod file;
mod grants;
mod records;
mod sql;
mod users;

pub use error::{StoreError, Taken};
pub use file::sqlite_file;
pub use grants::{
    CodeRedemption, GrantAccessToken, GrantStore, RefreshTokenGrant, Rotation, StoredCode,
    StoredGrant, StoredInteraction, StoredRefreshToken,
};
pub use records::{ResealedKey, RevokedJti, StoredClient, StoredSigningKey, StoredToken};
pub use sql::{POSTGRES_MAX_CONNECTIONS, PoolSize, SQLITE_MAX_CONNECTIONS, SqlStore};
pub use users::{StoredUser, UserStore};

/// Everything the authorization server persists; users and the code flow's
/// state are in [`UserStore`] and [`GrantStore`].
#[async_trait::async_trait]
pub trait Store: UserStore + GrantStore + Send + Sync + 'static {
    /// Checks the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Registers a client; [`StoreError::Conflict`] if the id is taken.
    async fn create_client(&self, client: &StoredClient) -> Result<(), StoreError>;
    /// One client by id.
    async fn client(&self, client_id: &str) -> Result<Option<StoredClient>, StoreError>;
    /// Every client, ordered by id.
    async fn clients(&self) -> Result<Vec<StoredClient>, StoreError>;
    /// Removes a client; false if there was none.
    async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError>;
    /// A counter that every client change increases (in the same
    /// transaction), so caches of client records can tell they are stale.
    async fn client_generation(&self) -> Result<i64, StoreError>;

    /// All signing keys, newest first: the active one (not retired) and
    /// retired ones still published in the JWKS.
    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError>;
    /// Inserts `key` as the active key only if no active key exists, safely
    /// under concurrent first starts; returns whether it was inserted.
    async fn insert_first_signing_key(&self, key: &StoredSigningKey) -> Result<bool, StoreError>;
    /// In one transaction: retire the newest key, and any key scheduled to
    /// retire later, at `retired_at` (which may lie ahead: it signs until
    /// then), and insert `key`, which signs from its `activates_at`
    /// (normally `retired_at`). The retired key's
    /// `publish_until` is `publish_until` or, if later, `retired_at +
    /// max_token_ttl + max_signing_lag + margin` from what the instances
    /// recorded for it, so every token it signed can be verified until it
    /// expires.
    async fn rotate_signing_key(
        &self,
        key: &StoredSigningKey,
        retired_at: i64,
        publish_until: i64,
        margin: i64,
    ) -> Result<(), StoreError>;
    /// In one transaction, replaces the sealed private key (and its KEK id)
    /// of each key in `resealed`, each only if its stored value is still the
    /// one it was resealed from; otherwise nothing is written and the result
    /// is [`StoreError::KeyChanged`]. Returns how many keys were written.
    async fn reseal_signing_keys(&self, resealed: &[ResealedKey]) -> Result<u64, StoreError>;
    /// Rewrites the signing-key table so values [`Store::reseal_signing_keys`]
    /// replaced do not linger in the database's files (SQLite: `VACUUM` and
    /// a truncating WAL checkpoint, [`StoreError::CheckpointBusy`] when other
    /// connections' reads keep blocking it; PostgreSQL: `VACUUM FULL` of the
    /// table, though its WAL archive and older backups keep what they hold).
    async fn compact_signing_keys(&self) -> Result<(), StoreError>;
    /// Raises the key's recorded `max_token_ttl` and `max_signing_lag` to at
    /// least these values (never lowers them; writes nothing if they are
    /// already that high), and a retired key's `publish_until` to cover
    /// them (`retired_at + max_token_ttl + max_signing_lag + margin`), for an
    /// instance that starts signing with a key a rotation has already
    /// scheduled to retire. Called once per key an instance loads, never per token.
    async fn record_key_use(
        &self,
        kid: &str,
        token_ttl: i64,
        signing_lag: i64,
        margin: i64,
    ) -> Result<(), StoreError>;

    /// Records an opaque access token (by hash; the token itself is never stored).
    async fn insert_opaque_token(&self, token: &StoredToken) -> Result<(), StoreError>;
    /// Looks up an opaque token by the hash of its value.
    async fn opaque_token(&self, token_hash: &str) -> Result<Option<StoredToken>, StoreError>;
    /// Marks an opaque token revoked; false if unknown or already revoked.
    async fn revoke_opaque_token(&self, token_hash: &str, at: i64) -> Result<bool, StoreError>;

    /// Records the revocation of a JWT access token by `jti` (idempotent);
    /// kept until `expires_at`, after which the token is dead anyway.
    async fn revoke_jti(
        &self,
        jti: &str,
        client_id: &str,
        expires_at: i64,
        at: i64,
    ) -> Result<(), StoreError>;
    /// Whether a JWT's `jti` has been revoked.
    async fn is_jti_revoked(&self, jti: &str) -> Result<bool, StoreError>;
    /// Revoked JWTs with a sequence number above `after` that are unexpired
    /// at `now`, in sequence order, at most `limit` of them: the incremental
    /// revocation list. Numbers increase in commit order, so a caller that
    /// resumes after the last number it saw misses no revocation.
    async fn revoked_jtis_after(
        &self,
        after: i64,
        now: i64,
        limit: u32,
    ) -> Result<Vec<RevokedJti>, StoreError>;

    /// Deletes expired tokens, revocations, interactions, codes, grants and
    /// refresh tokens, and retired keys whose `publish_until` has passed. Returns the number of rows removed.
    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError>;
}
