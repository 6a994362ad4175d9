//! The authorization server's signing keys as a [`KeySource`] for
//! `certbound-jose`'s [`KeySetCache`](certbound_jose::KeySetCache): fetched
//! from `jwks_uri`; the cache refetches on an unknown `kid` at most once per
//! `min_refetch` and keeps the last good set while the server is unreachable.

use certbound_jose::{JoseError, KeySet, KeySource};
use serde::Deserialize;
use serde_json::Value;
use tracing::info;

use crate::GuardError;
use crate::fetch::Fetcher;

/// A JWKS URL, fetched with the guard's TLS settings.
pub(crate) struct JwksSource {
    pub(crate) fetcher: Fetcher,
    pub(crate) url: String,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<Value>,
}

impl KeySource for JwksSource {
    type Set = KeySet;

    async fn load(&self) -> Result<KeySet, JoseError> {
        let set = self
            .fetcher
            .get_json::<RawSet>(&self.url)
            .await
            .map_err(|e| {
                JoseError::KeysUnavailable(match e {
                    GuardError::Unavailable(detail) | GuardError::Setup(detail) => detail,
                    other => other.to_string(),
                })
            })?;
        // Unusable entries (HMAC, encryption keys, an alg that does not fit
        // the key) are dropped by the parser, one at a time.
        let keys = KeySet::from_values(set.keys);
        info!(url = %self.url, keys = keys.len(), "fetched JWKS");
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use certbound_jose::KeyStore;
    use jsonwebtoken::Algorithm;

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
        let keys = KeySet::from_values(set.keys);
        assert_eq!(keys.len(), 1);
        assert_eq!(
            keys.key("e").map(|k| k.algorithms.clone()),
            Some(vec![Algorithm::ES256])
        );
    }
}
