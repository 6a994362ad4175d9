//! Token-signing keys: created on first start, stored, rotated without
//! downtime. The JWKS keeps a retired key until every token it signed has
//! expired; each instance caches the key set and re-reads it periodically so
//! a rotation done by `certbound keys rotate` reaches every instance.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use certbound_core::claims::ACCESS_TOKEN_TYP;
use certbound_core::{Clock, SystemClock};
use certbound_jose::{
    JoseError, JwsSigner, KeySetCache, KeySource, KeyStore, RefetchPolicy, VerificationKey,
};
use certbound_store::{Store, StoredSigningKey};
use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::Jwk;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tracing::{info, warn};

use crate::ServerError;
use crate::kek::KeyEncryption;

/// JWS algorithms certbound signs access tokens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum SigningAlg {
    /// ECDSA P-256 SHA-256 (default; FAPI-approved).
    #[serde(rename = "ES256")]
    Es256,
    /// RSASSA-PSS SHA-256 (FAPI-approved, for RSA-only relying parties).
    #[serde(rename = "PS256")]
    Ps256,
    /// Ed25519.
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl SigningAlg {
    /// The JWS `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Ps256 => "PS256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// Parses a JWS `alg` name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ES256" => Some(Self::Es256),
            "PS256" => Some(Self::Ps256),
            "EdDSA" => Some(Self::EdDsa),
            _ => None,
        }
    }

    /// The jsonwebtoken algorithm.
    pub fn jwt_algorithm(self) -> Algorithm {
        match self {
            Self::Es256 => Algorithm::ES256,
            Self::Ps256 => Algorithm::PS256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }

    /// Every algorithm the server signs with: what its own verifier accepts.
    pub const ALL: [Algorithm; 3] = [Algorithm::ES256, Algorithm::PS256, Algorithm::EdDSA];
}

/// Generates a new key, its private half sealed under the current KEK;
/// `kid` is the RFC 7638 JWK thumbprint.
pub fn generate_key(
    alg: SigningAlg,
    now: i64,
    kek: &KeyEncryption,
) -> Result<StoredSigningKey, ServerError> {
    let key = certbound_jose::generate(alg.jwt_algorithm())
        .map_err(|e| ServerError::Key(format!("generating a signing key: {e}")))?;
    let public_jwk = serde_json::to_string(&key.public_jwk)
        .map_err(|e| ServerError::Key(format!("serialising the public JWK: {e}")))?;
    let (private_key, kek_id) =
        kek.seal_private_key(&key.kid, alg.as_str(), &key.private_key_pem)?;
    Ok(StoredSigningKey {
        kid: key.kid,
        alg: alg.as_str().into(),
        private_key,
        kek_id: Some(kek_id),
        public_jwk,
        created_at: now,
        activates_at: now,
        retired_at: None,
        publish_until: None,
        max_token_ttl: 0,
        max_signing_lag: 0,
    })
}

/// The key new tokens are signed with, parsed once when the key set loads.
pub struct ActiveKey {
    /// JWS `kid`.
    pub kid: String,
    /// JWS `alg`.
    pub algorithm: Algorithm,
    /// The private key, ready to sign access tokens (header `alg`, `kid`,
    /// `typ: at+jwt`, encoded once).
    pub signer: JwsSigner,
}

/// The keys one instance currently uses: one to sign, all published ones to verify.
pub struct KeySet {
    /// Signs new tokens.
    pub active: ActiveKey,
    verifiers: HashMap<String, Arc<VerificationKey>>,
    /// `{"keys":[…]}`, serialised once.
    pub jwks_json: String,
}

impl KeySet {
    /// Builds from stored keys (newest first), publishing those still needed
    /// at `now`; the active key's private half is opened with `kek`.
    pub fn from_stored(
        keys: &[StoredSigningKey],
        now: i64,
        kek: &KeyEncryption,
    ) -> Result<Self, ServerError> {
        // Every jsonwebtoken call in the server uses a key built here.
        certbound_jose::install();
        let active = signing_key(keys, now)
            .ok_or_else(|| ServerError::Key("no active signing key in the store".into()))?;
        let alg = stored_alg(active)?;
        let pem = kek.open_private_key(active)?;
        let signer =
            JwsSigner::from_pkcs8_pem(alg.jwt_algorithm(), pem.as_bytes(), active.kid.as_str())
                .and_then(|s| s.with_typ(ACCESS_TOKEN_TYP))
                .map_err(|e| {
                    ServerError::Key(format!("stored key {} is unreadable: {e}", active.kid))
                })?;
        let mut verifiers = HashMap::new();
        let mut published = Vec::new();
        for key in keys {
            if !is_published(key, now) {
                continue;
            }
            let jwk: Value = serde_json::from_str(&key.public_jwk).map_err(|e| {
                ServerError::Key(format!("stored JWK {} is not JSON: {e}", key.kid))
            })?;
            let alg = stored_alg(key)?;
            let parsed: Jwk = serde_json::from_value(jwk.clone()).map_err(|e| {
                ServerError::Key(format!("stored JWK {} is not a JWK: {e}", key.kid))
            })?;
            let mut verifier = certbound_jose::verification_key(&parsed).ok_or_else(|| {
                ServerError::Key(format!(
                    "stored JWK {} is unusable for {}",
                    key.kid, key.alg
                ))
            })?;
            // The stored `alg` is the one the key signs with, whatever the JWK says.
            verifier.algorithms = vec![alg.jwt_algorithm()];
            verifiers.insert(key.kid.clone(), Arc::new(verifier));
            published.push(jwk);
        }
        Ok(Self {
            active: ActiveKey {
                kid: active.kid.clone(),
                algorithm: alg.jwt_algorithm(),
                signer,
            },
            verifiers,
            jwks_json: json!({ "keys": published }).to_string(),
        })
    }

    /// The verification key for a `kid` we published.
    pub fn verifier(&self, kid: &str) -> Option<&VerificationKey> {
        self.verifiers.get(kid).map(Arc::as_ref)
    }
}

impl KeyStore for KeySet {
    fn key(&self, kid: &str) -> Option<Arc<VerificationKey>> {
        self.verifiers.get(kid).cloned()
    }

    fn same_keys(&self, other: &Self) -> bool {
        self.active.kid == other.active.kid && self.jwks_json == other.jwks_json
    }
}

fn stored_alg(key: &StoredSigningKey) -> Result<SigningAlg, ServerError> {
    SigningAlg::parse(&key.alg).ok_or_else(|| {
        ServerError::Key(format!(
            "stored key {} has unsupported alg {}",
            key.kid, key.alg
        ))
    })
}

/// Slack added to a retired key's publication window, for clock skew
/// between instances and verifiers.
pub const ROTATION_MARGIN_SECONDS: i64 = 60;

/// How this instance uses a signing key, recorded in the store per key so a
/// rotation (by any process, with any config) keeps the key published until
/// the last token this instance signed with it has expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyUse {
    /// Lifetime of the access tokens it signs, seconds.
    pub token_ttl: i64,
    /// How long it may keep signing with a key after a rotation before it
    /// re-reads the key set (`keys.cache_seconds`).
    pub signing_lag: i64,
}

/// The key store as a [`KeySource`]: each load also records this
/// instance's use of the active key.
pub struct StoredKeys {
    store: Arc<dyn Store>,
    kek: Arc<KeyEncryption>,
    clock: Arc<dyn Clock>,
    usage: KeyUse,
    /// The active `kid` whose use this instance has recorded: the store is
    /// written once per key, when a load first shows it, never per token.
    recorded: Mutex<Option<String>>,
}

impl StoredKeys {
    /// Records this instance's use of `kid` unless already done for it.
    async fn record_use(&self, kid: &str) {
        let mut recorded = self.recorded.lock().await;
        if recorded.as_deref() == Some(kid) {
            return;
        }
        match self
            .store
            .record_key_use(
                kid,
                self.usage.token_ttl,
                self.usage.signing_lag,
                ROTATION_MARGIN_SECONDS,
            )
            .await
        {
            Ok(()) => *recorded = Some(kid.to_owned()),
            // Tried again at the next load.
            Err(e) => {
                warn!(kid, error = %e, "could not record this instance's use of the signing key")
            }
        }
    }
}

impl KeySource for StoredKeys {
    type Set = KeySet;

    async fn load(&self) -> Result<KeySet, JoseError> {
        let keys = self
            .store
            .signing_keys()
            .await
            .map_err(|e| JoseError::KeysUnavailable(e.to_string()))?;
        let set = KeySet::from_stored(&keys, self.clock.unix_seconds(), &self.kek)
            .map_err(|e| JoseError::KeysUnavailable(e.to_string()))?;
        self.record_use(&set.active.kid).await;
        Ok(set)
    }
}

/// Per-instance cache of the [`KeySet`], refreshed from the store.
pub struct KeyCache {
    cache: KeySetCache<StoredKeys>,
}

/// How soon a token signed with a `kid` we do not know may send us back to
/// the store: it may come from an instance that rotated a moment ago.
const UNKNOWN_KID_REFETCH: Duration = Duration::from_secs(1);

impl KeyCache {
    /// Loads the key set, creating the first key if the store has none.
    /// Nothing is written when `kek` cannot open the active key.
    pub async fn open(
        store: Arc<dyn Store>,
        kek: Arc<KeyEncryption>,
        alg: SigningAlg,
        max_age: Duration,
        usage: KeyUse,
    ) -> Result<Self, ServerError> {
        Self::open_with_clock(store, kek, alg, max_age, usage, Arc::new(SystemClock)).await
    }

    /// [`KeyCache::open`] reading time from `clock`.
    pub async fn open_with_clock(
        store: Arc<dyn Store>,
        kek: Arc<KeyEncryption>,
        alg: SigningAlg,
        max_age: Duration,
        usage: KeyUse,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ServerError> {
        let now = clock.unix_seconds();
        let stored = store.signing_keys().await?;
        let unsealed: Vec<&str> = stored
            .iter()
            .filter(|k| k.kek_id.is_none())
            .map(|k| k.kid.as_str())
            .collect();
        if !unsealed.is_empty() {
            warn!(
                kids = ?unsealed,
                "signing keys stored unsealed by an earlier version: run `certbound keys rewrap` to seal them under the key-encryption key"
            );
        }
        if !stored.iter().any(|k| k.retired_at.is_none()) {
            let key = generate_key(alg, now, &kek)?;
            // Another instance may win the race; its key is just as good.
            if store.insert_first_signing_key(&key).await? {
                info!(target: "certbound::audit", event = "signing_key_created", kid = %key.kid, alg = %key.alg);
            }
        }
        let set = KeySet::from_stored(&store.signing_keys().await?, now, &kek)?;
        // Recorded before the first token is signed: a start that cannot
        // record fails rather than sign tokens a rotation may outrun.
        store
            .record_key_use(
                &set.active.kid,
                usage.token_ttl,
                usage.signing_lag,
                ROTATION_MARGIN_SECONDS,
            )
            .await?;
        let source = StoredKeys {
            store,
            kek,
            clock: Arc::clone(&clock),
            usage,
            recorded: Mutex::new(Some(set.active.kid.clone())),
        };
        let policy = RefetchPolicy {
            // With `keys.cache_seconds = 0` every read goes to the store.
            min_refetch: UNKNOWN_KID_REFETCH.min(max_age),
            max_age,
        };
        Ok(Self {
            cache: KeySetCache::with_set(source, policy, clock, set),
        })
    }

    /// The KEKs the keys are sealed under.
    pub fn key_encryption(&self) -> &KeyEncryption {
        &self.cache.source().kek
    }

    /// The clock the key set and the token checks read.
    pub fn clock(&self) -> &dyn Clock {
        self.cache.source().clock.as_ref()
    }

    /// The `kid` → key cache the token checks verify against.
    pub fn verification_keys(&self) -> &KeySetCache<StoredKeys> {
        &self.cache
    }

    /// The current key set, re-read from the store when older than `max_age`.
    /// If the store is unreachable the last good set keeps serving; the
    /// cache opened with a set, so there always is one.
    pub async fn get(&self) -> Result<Arc<KeySet>, ServerError> {
        self.cache
            .current()
            .await
            .map_err(|e| ServerError::Key(e.to_string()))
    }

    /// The JWKS to publish now, read from the store so every instance
    /// publishes a freshly rotated key at once; the cached set if the store
    /// is unreachable.
    pub async fn current_jwks(&self) -> String {
        let store = &self.cache.source().store;
        match store.signing_keys().await {
            Ok(keys) => match published_jwks(&keys, self.cache.source().clock.unix_seconds()) {
                Ok(json) => return json,
                Err(e) => {
                    warn!(error = %e, "stored signing keys unreadable; serving the cached JWKS")
                }
            },
            Err(e) => warn!(error = %e, "could not read signing keys; serving the cached JWKS"),
        }
        match self.get().await {
            Ok(set) => set.jwks_json.clone(),
            Err(e) => {
                warn!(error = %e, "no signing keys to publish");
                json!({ "keys": [] }).to_string()
            }
        }
    }
}

/// The key that signs at `now`: of those whose time has come and not yet
/// gone, the one that came last (on a tie, the first of `keys`, which the
/// store lists newest first). A rotation publishes the next key ahead and
/// retires the current one at that key's `activates_at`; `--now` during the
/// wait leaves the current key formally in force but starts a later one.
/// Should none be in force (a clock far behind), the key not retired.
pub fn signing_key(keys: &[StoredSigningKey], now: i64) -> Option<&StoredSigningKey> {
    keys.iter()
        .filter(|k| is_in_force(k, now))
        .fold(None, |best: Option<&StoredSigningKey>, k| match best {
            Some(b) if b.activates_at >= k.activates_at => Some(b),
            _ => Some(k),
        })
        .or_else(|| keys.iter().find(|k| k.retired_at.is_none()))
}

/// Whether `key` may sign at `now`.
pub fn is_in_force(key: &StoredSigningKey, now: i64) -> bool {
    key.activates_at <= now && key.retired_at.is_none_or(|retired| now < retired)
}

/// `{"keys":[…]}` of the keys still published at `now`.
pub fn published_jwks(keys: &[StoredSigningKey], now: i64) -> Result<String, ServerError> {
    let mut published = Vec::new();
    for key in keys.iter().filter(|k| is_published(k, now)) {
        let jwk: Value = serde_json::from_str(&key.public_jwk)
            .map_err(|e| ServerError::Key(format!("stored JWK {} is not JSON: {e}", key.kid)))?;
        published.push(jwk);
    }
    Ok(json!({ "keys": published }).to_string())
}

fn is_published(key: &StoredSigningKey, now: i64) -> bool {
    key.retired_at.is_none() || key.publish_until.is_some_and(|until| until > now)
}

/// Publishes a new key now and makes it sign `prepublish` seconds later,
/// when the current key retires (0: at once, as for a compromised key).
/// Meanwhile verifiers fetching `/jwks` learn the new key before any token
/// carries its `kid`. The old key stays published for at least
/// `publish_for` seconds after it retires, and longer if the servers
/// recorded a longer token lifetime (plus key-cache period) for it: until
/// the last token it signed has expired, plus [`ROTATION_MARGIN_SECONDS`].
pub async fn rotate(
    store: &dyn Store,
    kek: &KeyEncryption,
    alg: SigningAlg,
    publish_for: i64,
    prepublish: i64,
) -> Result<StoredSigningKey, ServerError> {
    // A KEK that cannot open the keys in force must not seal the next one:
    // the instances would be left with keys under two KEKs.
    for stored in store.signing_keys().await? {
        kek.open_private_key(&stored)?;
    }
    let now = crate::now();
    let mut key = generate_key(alg, now, kek)?;
    let switch = now.saturating_add(prepublish.max(0));
    key.activates_at = switch;
    store
        .rotate_signing_key(
            &key,
            switch,
            switch.saturating_add(publish_for),
            ROTATION_MARGIN_SECONDS,
        )
        .await?;
    info!(target: "certbound::audit", event = "signing_key_rotated", kid = %key.kid, alg = %key.alg, activates_at = switch);
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_signs_and_verifies() {
        let (kek, _) = crate::kek::KeyEncryptionKey::generate().unwrap_or_else(|e| panic!("{e}"));
        let kek = KeyEncryption::new(kek, vec![]);
        for alg in [SigningAlg::Es256, SigningAlg::EdDsa, SigningAlg::Ps256] {
            let key = generate_key(alg, 1, &kek).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(key.kek_id.as_deref(), Some(kek.current_id()));
            assert!(!key.private_key.contains("PRIVATE KEY"));
            let set = KeySet::from_stored(std::slice::from_ref(&key), 1, &kek)
                .unwrap_or_else(|e| panic!("{e}"));
            let token = set
                .active
                .signer
                .sign_claims(&json!({"sub": "x", "exp": 4_000_000_000u64}))
                .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
            let vk = set.verifier(&key.kid).unwrap_or_else(|| panic!("verifier"));
            assert_eq!(vk.algorithms, vec![alg.jwt_algorithm()]);
            let mut v = jsonwebtoken::Validation::new(alg.jwt_algorithm());
            v.validate_aud = false;
            let ok = jsonwebtoken::decode::<Value>(&token, &vk.key, &v);
            assert!(ok.is_ok(), "{alg:?}: {ok:?}");
            assert_eq!(key.kid.len(), 43);
        }
    }

    fn key(kid: &str, activates_at: i64, retired_at: Option<i64>) -> StoredSigningKey {
        StoredSigningKey {
            kid: kid.into(),
            alg: "ES256".into(),
            private_key: String::new(),
            kek_id: None,
            public_jwk: "{}".into(),
            created_at: activates_at.min(100),
            activates_at,
            retired_at,
            publish_until: retired_at.map(|r| r + 50),
            max_token_ttl: 0,
            max_signing_lag: 0,
        }
    }

    #[test]
    fn the_key_in_force_signs_and_the_next_one_waits_for_its_time() {
        // k1 signs until 200, when k2 (published at 100) takes over;
        // a rotation during that wait scheduled k3 for 300.
        let keys = [
            key("k3", 300, None),
            key("k2", 200, Some(300)),
            key("k1", 0, Some(200)),
        ];
        let kid = |now| signing_key(&keys, now).map(|k| k.kid.as_str());
        assert_eq!(kid(150), Some("k1"));
        assert_eq!(kid(199), Some("k1"));
        assert_eq!(kid(200), Some("k2"));
        assert_eq!(kid(299), Some("k2"));
        assert_eq!(kid(300), Some("k3"));
        assert_eq!(kid(10_000), Some("k3"));
        // A clock before every key's time: the newest key not retired.
        assert_eq!(kid(-5), Some("k3"));
        // Every one of them is published meanwhile.
        assert!(keys.iter().all(|k| is_published(k, 150)));
        // `keys rotate --now` during a wait: k3 at once, k2 never signs,
        // whatever the order of keys made within one second.
        let keys = [
            key("k1", 0, Some(150)),
            key("k3", 150, None),
            key("k2", 200, Some(150)),
        ];
        assert_eq!(signing_key(&keys, 150).map(|k| k.kid.as_str()), Some("k3"));
        assert_eq!(signing_key(&keys, 250).map(|k| k.kid.as_str()), Some("k3"));
    }
}
