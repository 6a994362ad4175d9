//! The authorization server's signing keys: fetched from `jwks_uri`,
//! cached, refetched on an unknown `kid` at most once per `min_refetch`,
//! and kept (last good set) while the server is unreachable.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{Mutex, RwLock};
use tracing::{info, warn};

use crate::GuardError;
use crate::fetch::Fetcher;

/// A verification key and the algorithms it may be used with.
pub(crate) struct VerificationKey {
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) key: DecodingKey,
}

#[derive(Default)]
struct State {
    keys: Arc<HashMap<String, Arc<VerificationKey>>>,
    raw: Vec<Value>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
    /// Whether the last attempt failed: until the next one, the keys in
    /// hand are not known to be current.
    last_attempt_failed: bool,
}

pub(crate) struct JwksCache {
    fetcher: Fetcher,
    url: String,
    min_refetch: Duration,
    max_age: Duration,
    state: RwLock<State>,
    refreshing: Mutex<()>,
    /// Bumped whenever a fetched key set differs from the last one, so
    /// results verified under the old set are not reused.
    generation: AtomicU64,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<Value>,
}

impl JwksCache {
    pub(crate) fn new(
        fetcher: Fetcher,
        url: String,
        min_refetch: Duration,
        max_age: Duration,
    ) -> Self {
        Self {
            fetcher,
            url,
            min_refetch,
            max_age,
            state: RwLock::new(State::default()),
            refreshing: Mutex::new(()),
            generation: AtomicU64::new(0),
        }
    }

    /// Changes whenever the key set does.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The key for `kid`, fetching or refetching as the rules allow. A known
    /// key is served at once even when the set is stale (the refresh runs
    /// in the background), so an unreachable AS never stalls requests that
    /// carry a key we already have.
    pub(crate) async fn key(
        self: &Arc<Self>,
        kid: &str,
    ) -> Result<Option<Arc<VerificationKey>>, GuardError> {
        {
            let state = self.state.read().await;
            if let Some(k) = state.keys.get(kid) {
                let stale = state.fetched_at.is_none_or(|t| t.elapsed() >= self.max_age);
                if stale {
                    let this = Arc::clone(self);
                    tokio::spawn(async move {
                        let _ = this.refresh().await;
                    });
                }
                return Ok(Some(Arc::clone(k)));
            }
        }
        // `None` only when a fetch that succeeded says the kid is not
        // published; when the keys could not be refreshed the kid may be a
        // new key, and the caller must retry rather than drop its token.
        let refreshed = self.refresh().await;
        let key = self.state.read().await.keys.get(kid).cloned();
        match (refreshed, key) {
            (_, Some(key)) => Ok(Some(key)),
            (Ok(()), None) => Ok(None),
            (Err(e), None) => Err(e),
        }
    }

    /// Refetches unless another attempt happened within `min_refetch`.
    /// `Ok` when the keys in hand are the answer of the latest attempt;
    /// `Err` when that attempt failed (the last good keys still serve the
    /// kids they hold).
    async fn refresh(&self) -> Result<(), GuardError> {
        let _one = self.refreshing.lock().await;
        {
            let state = self.state.read().await;
            if state
                .last_attempt
                .is_some_and(|t| t.elapsed() < self.min_refetch)
            {
                return if state.last_attempt_failed {
                    Err(GuardError::Unavailable(format!(
                        "the last fetch of {} failed; the next is allowed {:?} after it",
                        self.url, self.min_refetch
                    )))
                } else {
                    Ok(())
                };
            }
        }
        let fetched = self.fetcher.get_json::<RawSet>(&self.url).await;
        let mut state = self.state.write().await;
        state.last_attempt = Some(Instant::now());
        state.last_attempt_failed = fetched.is_err();
        match fetched {
            Ok(set) => {
                if set.keys != state.raw {
                    state.raw = set.keys.clone();
                    self.generation.fetch_add(1, Ordering::AcqRel);
                }
                let keys = parse_set(set);
                info!(url = %self.url, keys = keys.len(), "fetched JWKS");
                state.keys = Arc::new(keys);
                state.fetched_at = Some(Instant::now());
                Ok(())
            }
            Err(e) => {
                if state.fetched_at.is_some() {
                    // Last good keys keep serving while the AS is down.
                    warn!(url = %self.url, error = %e, "JWKS refresh failed; keeping the last good keys");
                }
                Err(e)
            }
        }
    }
}

fn parse_set(set: RawSet) -> HashMap<String, Arc<VerificationKey>> {
    // Every key the guard verifies with is built here, after ring's
    // provider became jsonwebtoken's default.
    certbound_jose::install();
    let mut out = HashMap::new();
    for raw in set.keys {
        // One unusable entry must not hide the others.
        let Ok(jwk) = serde_json::from_value::<Jwk>(raw) else {
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        if matches!(
            jwk.common.public_key_use,
            Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
        ) {
            continue;
        }
        let Some(algorithms) = allowed_algorithms(&jwk) else {
            continue;
        };
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        out.insert(kid, Arc::new(VerificationKey { algorithms, key }));
    }
    out
}

/// Asymmetric algorithms only: `oct` keys (HMAC) are never accepted, so a
/// public key can never be used as an HMAC secret.
fn allowed_algorithms(jwk: &Jwk) -> Option<Vec<Algorithm>> {
    let by_type: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            vec![Algorithm::EdDSA]
        }
        AlgorithmParameters::RSA(_) => vec![
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
        ],
        _ => return None,
    };
    // The JWK `alg` as a JWS algorithm (via its registered name).
    let declared = jwk
        .common
        .key_algorithm
        .and_then(|a| serde_json::to_value(a).ok())
        .and_then(|v| v.as_str().and_then(|s| s.parse::<Algorithm>().ok()));
    match declared {
        Some(alg) if by_type.contains(&alg) => Some(vec![alg]),
        Some(_) => None,
        None if jwk.common.key_algorithm.is_some() => None,
        None => Some(by_type),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_and_mismatched_keys_are_dropped() {
        let set: RawSet = match serde_json::from_value(serde_json::json!({"keys": [
            {"kty": "oct", "kid": "h", "k": "c2VjcmV0"},
            {"kty": "EC", "crv": "P-256", "kid": "e", "alg": "ES256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "crv": "P-256", "kid": "wrong-alg", "alg": "RS256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "unknown", "kid": "u"},
            {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
        ]})) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        let keys = parse_set(set);
        assert_eq!(keys.len(), 1);
        assert_eq!(
            keys.get("e").map(|k| k.algorithms.clone()),
            Some(vec![Algorithm::ES256])
        );
    }
}
