//! [`KeySet`]: the usable verification keys of a published JWKS.

use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::Value;

use crate::VerificationKey;

/// The RSA signature algorithms an RSA key may verify (PSS first).
pub const RSA_ALGORITHMS: [Algorithm; 6] = [
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
];

/// Every asymmetric algorithm a verifier accepts by default; HMAC never,
/// since a public key must not double as a shared secret.
pub const ASYMMETRIC_ALGORITHMS: [Algorithm; 9] = {
    let mut all = [
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
        Algorithm::ES256,
        Algorithm::ES256,
        Algorithm::ES256,
        Algorithm::ES256,
        Algorithm::ES256,
        Algorithm::ES256,
    ];
    let mut i = 0;
    while i < RSA_ALGORITHMS.len() {
        all[3 + i] = RSA_ALGORITHMS[i];
        i += 1;
    }
    all
};

/// Verification keys by `kid`.
pub trait KeyStore: Send + Sync + 'static {
    /// The key published under `kid`.
    fn key(&self, kid: &str) -> Option<Arc<VerificationKey>>;
    /// Whether `other` holds the same keys, so results verified under one
    /// stay valid under the other.
    fn same_keys(&self, other: &Self) -> bool;
}

/// The verification keys of a JWKS document (RFC 7517 §5).
#[derive(Default)]
pub struct KeySet {
    keys: HashMap<String, Arc<VerificationKey>>,
    raw: Vec<Value>,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<Value>,
}

impl KeySet {
    /// Parses `{"keys":[…]}`. Entries that are unusable for verifying
    /// signatures (no `kid`, encryption keys, HMAC secrets, an `alg` that
    /// does not fit the key) are skipped: one bad entry must not hide the others.
    pub fn from_jwks(json: &[u8]) -> Result<Self, serde_json::Error> {
        let set: RawSet = serde_json::from_slice(json)?;
        Ok(Self::from_values(set.keys))
    }

    /// [`KeySet::from_jwks`] from already parsed entries.
    pub fn from_values(raw: Vec<Value>) -> Self {
        crate::install();
        let mut keys = HashMap::new();
        for entry in &raw {
            let Ok(jwk) = serde_json::from_value::<Jwk>(entry.clone()) else {
                continue;
            };
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            if let Some(key) = verification_key(&jwk) {
                keys.insert(kid, Arc::new(key));
            }
        }
        Self { keys, raw }
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is usable.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl KeyStore for KeySet {
    fn key(&self, kid: &str) -> Option<Arc<VerificationKey>> {
        self.keys.get(kid).cloned()
    }

    fn same_keys(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

/// The key of a signing JWK with the algorithms it may verify, or `None`
/// when it must not be used for that.
pub fn verification_key(jwk: &Jwk) -> Option<VerificationKey> {
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    let algorithms = allowed_algorithms(jwk)?;
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(VerificationKey { algorithms, key })
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
        AlgorithmParameters::RSA(_) => RSA_ALGORITHMS.to_vec(),
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

impl crate::KeyLookup for KeySet {
    fn key(
        &self,
        kid: &str,
    ) -> impl std::future::Future<Output = Result<Option<Arc<VerificationKey>>, crate::JoseError>> + Send
    {
        std::future::ready(Ok(KeyStore::key(self, kid)))
    }
}
