//! Token-signing keys: created on first start, stored, rotated without
//! downtime. The JWKS keeps a retired key until every token it signed has
//! expired; each instance caches the key set and re-reads it periodically so
//! a rotation done by `certbound keys rotate` reaches every instance.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use certbound_core::claims::ACCESS_TOKEN_TYP;
use certbound_jose::JwsSigner;
use certbound_pki::KeyAlgorithm;
use certbound_store::{Store, StoredSigningKey};
use jsonwebtoken::{Algorithm, DecodingKey};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::traits::PublicKeyParts;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, RwLock};
use tracing::{info, warn};

use crate::ServerError;

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

    fn jwt_algorithm(self) -> Algorithm {
        match self {
            Self::Es256 => Algorithm::ES256,
            Self::Ps256 => Algorithm::PS256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }
}

/// Generates a new key; `kid` is the RFC 7638 JWK thumbprint.
pub fn generate_key(alg: SigningAlg, now: i64) -> Result<StoredSigningKey, ServerError> {
    let pair = match alg {
        SigningAlg::Es256 => KeyAlgorithm::EcdsaP256,
        SigningAlg::Ps256 => KeyAlgorithm::Rsa2048,
        SigningAlg::EdDsa => KeyAlgorithm::Ed25519,
    }
    .generate()
    .map_err(|e| ServerError::Key(format!("generating a signing key: {e}")))?;
    let raw = pair.public_key_raw();
    // RFC 7638 required members, in lexicographic order.
    let (mut jwk, canonical) = match alg {
        SigningAlg::Es256 => {
            if raw.len() != 65 || raw[0] != 4 {
                return Err(ServerError::Key(
                    "unexpected P-256 public key encoding".into(),
                ));
            }
            let (x, y) = (B64.encode(&raw[1..33]), B64.encode(&raw[33..]));
            let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
            (
                json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
                canonical,
            )
        }
        SigningAlg::EdDsa => {
            let x = B64.encode(raw);
            let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
            (json!({"kty": "OKP", "crv": "Ed25519", "x": x}), canonical)
        }
        SigningAlg::Ps256 => {
            let public = rsa::RsaPublicKey::from_pkcs1_der(raw)
                .map_err(|e| ServerError::Key(format!("reading the RSA public key: {e}")))?;
            let (n, e) = (
                B64.encode(public.n().to_bytes_be()),
                B64.encode(public.e().to_bytes_be()),
            );
            let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
            (json!({"kty": "RSA", "n": n, "e": e}), canonical)
        }
    };
    let kid = B64.encode(Sha256::digest(canonical.as_bytes()));
    if let Value::Object(map) = &mut jwk {
        map.insert("kid".into(), Value::String(kid.clone()));
        map.insert("alg".into(), Value::String(alg.as_str().into()));
        map.insert("use".into(), Value::String("sig".into()));
    }
    Ok(StoredSigningKey {
        kid,
        alg: alg.as_str().into(),
        private_key_pem: pair.serialize_pem(),
        public_jwk: jwk.to_string(),
        created_at: now,
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
    verifiers: HashMap<String, (Algorithm, DecodingKey)>,
    /// `{"keys":[…]}`, serialised once.
    pub jwks_json: String,
}

impl KeySet {
    /// Builds from stored keys (newest first), publishing those still needed at `now`.
    pub fn from_stored(keys: &[StoredSigningKey], now: i64) -> Result<Self, ServerError> {
        // Every jsonwebtoken call in the server uses a key built here.
        certbound_jose::install();
        let active = keys
            .iter()
            .find(|k| k.retired_at.is_none())
            .ok_or_else(|| ServerError::Key("no active signing key in the store".into()))?;
        let alg = SigningAlg::parse(&active.alg).ok_or_else(|| {
            ServerError::Key(format!(
                "stored key {} has unsupported alg {}",
                active.kid, active.alg
            ))
        })?;
        let signer = JwsSigner::from_pkcs8_pem(
            alg.jwt_algorithm(),
            active.private_key_pem.as_bytes(),
            active.kid.as_str(),
        )
        .and_then(|s| s.with_typ(ACCESS_TOKEN_TYP))
        .map_err(|e| ServerError::Key(format!("stored key {} is unreadable: {e}", active.kid)))?;
        let mut verifiers = HashMap::new();
        let mut published = Vec::new();
        for key in keys {
            if !is_published(key, now) {
                continue;
            }
            let jwk: Value = serde_json::from_str(&key.public_jwk).map_err(|e| {
                ServerError::Key(format!("stored JWK {} is not JSON: {e}", key.kid))
            })?;
            let alg = SigningAlg::parse(&key.alg).ok_or_else(|| {
                ServerError::Key(format!(
                    "stored key {} has unsupported alg {}",
                    key.kid, key.alg
                ))
            })?;
            verifiers.insert(
                key.kid.clone(),
                (alg.jwt_algorithm(), decoding_key(alg, &jwk)?),
            );
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
    pub fn verifier(&self, kid: &str) -> Option<&(Algorithm, DecodingKey)> {
        self.verifiers.get(kid)
    }
}

fn decoding_key(alg: SigningAlg, jwk: &Value) -> Result<DecodingKey, ServerError> {
    let field = |name: &str| {
        jwk.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| ServerError::Key(format!("stored JWK lacks {name}")))
    };
    match alg {
        SigningAlg::Es256 => DecodingKey::from_ec_components(field("x")?, field("y")?),
        SigningAlg::Ps256 => DecodingKey::from_rsa_components(field("n")?, field("e")?),
        SigningAlg::EdDsa => DecodingKey::from_ed_components(field("x")?),
    }
    .map_err(|e| ServerError::Key(format!("stored JWK is unusable: {e}")))
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

/// Per-instance cache of the [`KeySet`], refreshed from the store.
pub struct KeyCache {
    store: Arc<dyn Store>,
    max_age: Duration,
    current: RwLock<(Instant, Arc<KeySet>)>,
    refreshing: Mutex<()>,
    usage: KeyUse,
    /// The active `kid` whose use this instance has recorded: the store is
    /// written once per key, when a load first shows it, never per token.
    recorded: Mutex<Option<String>>,
}

impl KeyCache {
    /// Loads the key set, creating the first key if the store has none.
    pub async fn open(
        store: Arc<dyn Store>,
        alg: SigningAlg,
        max_age: Duration,
        usage: KeyUse,
    ) -> Result<Self, ServerError> {
        let now = crate::now();
        if !store
            .signing_keys()
            .await?
            .iter()
            .any(|k| k.retired_at.is_none())
        {
            let key = generate_key(alg, now)?;
            // Another instance may win the race; its key is just as good.
            if store.insert_first_signing_key(&key).await? {
                info!(target: "certbound::audit", event = "signing_key_created", kid = %key.kid, alg = %key.alg);
            }
        }
        let set = KeySet::from_stored(&store.signing_keys().await?, now)?;
        // Recorded before the first token is signed: a start that cannot
        // record fails rather than sign tokens a rotation may outrun.
        store
            .record_key_use(&set.active.kid, usage.token_ttl, usage.signing_lag)
            .await?;
        let recorded = Mutex::new(Some(set.active.kid.clone()));
        Ok(Self {
            store,
            max_age,
            current: RwLock::new((Instant::now(), Arc::new(set))),
            refreshing: Mutex::new(()),
            usage,
            recorded,
        })
    }

    /// Records this instance's use of `kid` unless already done for it.
    async fn record_use(&self, kid: &str) {
        let mut recorded = self.recorded.lock().await;
        if recorded.as_deref() == Some(kid) {
            return;
        }
        match self
            .store
            .record_key_use(kid, self.usage.token_ttl, self.usage.signing_lag)
            .await
        {
            Ok(()) => *recorded = Some(kid.to_owned()),
            // Tried again at the next load.
            Err(e) => {
                warn!(kid, error = %e, "could not record this instance's use of the signing key")
            }
        }
    }

    /// The current key set, re-read from the store when older than `max_age`.
    /// If the store is unreachable the last good set keeps serving.
    pub async fn get(&self) -> Arc<KeySet> {
        {
            let guard = self.current.read().await;
            if guard.0.elapsed() < self.max_age {
                return Arc::clone(&guard.1);
            }
        }
        self.refresh().await
    }

    /// Re-reads the key set if it is older than `max_age` (single flight).
    pub async fn refresh(&self) -> Arc<KeySet> {
        self.reload(self.max_age).await
    }

    /// Re-reads the key set unless it was read within the last second: a
    /// token signed with a `kid` we do not know may come from an instance
    /// that rotated a moment ago.
    pub async fn refresh_for_unknown_kid(&self) -> Arc<KeySet> {
        self.reload(Duration::from_secs(1)).await
    }

    async fn reload(&self, fresh_for: Duration) -> Arc<KeySet> {
        let _one = self.refreshing.lock().await;
        {
            let guard = self.current.read().await;
            if guard.0.elapsed() < fresh_for && !fresh_for.is_zero() {
                return Arc::clone(&guard.1);
            }
        }
        let loaded = match self.store.signing_keys().await {
            Ok(keys) => KeySet::from_stored(&keys, crate::now()),
            Err(e) => Err(e.into()),
        };
        if let Ok(set) = &loaded {
            self.record_use(&set.active.kid).await;
        }
        let mut guard = self.current.write().await;
        match loaded {
            Ok(set) => *guard = (Instant::now(), Arc::new(set)),
            Err(e) => {
                warn!(error = %e, "could not refresh signing keys; keeping the cached set");
                guard.0 = Instant::now();
            }
        }
        Arc::clone(&guard.1)
    }

    /// The JWKS to publish now, read from the store so every instance
    /// publishes a freshly rotated key at once; the cached set if the store
    /// is unreachable.
    pub async fn current_jwks(&self) -> String {
        match self.store.signing_keys().await {
            Ok(keys) => match published_jwks(&keys, crate::now()) {
                Ok(json) => return json,
                Err(e) => {
                    warn!(error = %e, "stored signing keys unreadable; serving the cached JWKS")
                }
            },
            Err(e) => warn!(error = %e, "could not read signing keys; serving the cached JWKS"),
        }
        self.get().await.jwks_json.clone()
    }
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

/// Retires the active key and makes a new one active; the old key stays
/// published for at least `publish_for` seconds, and longer if the servers
/// recorded a longer token lifetime (plus key-cache period) for it: until
/// the last token it signed has expired, plus [`ROTATION_MARGIN_SECONDS`].
pub async fn rotate(
    store: &dyn Store,
    alg: SigningAlg,
    publish_for: i64,
) -> Result<StoredSigningKey, ServerError> {
    let now = crate::now();
    let key = generate_key(alg, now)?;
    store
        .rotate_signing_key(&key, now, now + publish_for, ROTATION_MARGIN_SECONDS)
        .await?;
    info!(target: "certbound::audit", event = "signing_key_rotated", kid = %key.kid, alg = %key.alg);
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_signs_and_verifies() {
        for alg in [SigningAlg::Es256, SigningAlg::EdDsa, SigningAlg::Ps256] {
            let key = generate_key(alg, 1).unwrap_or_else(|e| panic!("{e}"));
            let set = KeySet::from_stored(std::slice::from_ref(&key), 1)
                .unwrap_or_else(|e| panic!("{e}"));
            let token = set
                .active
                .signer
                .sign_claims(&json!({"sub": "x", "exp": 4_000_000_000u64}))
                .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
            let (a, dk) = set.verifier(&key.kid).unwrap_or_else(|| panic!("verifier"));
            let mut v = jsonwebtoken::Validation::new(*a);
            v.validate_aud = false;
            let ok = jsonwebtoken::decode::<Value>(&token, dk, &v);
            assert!(ok.is_ok(), "{alg:?}: {ok:?}");
            assert_eq!(key.kid.len(), 43);
        }
    }
}
