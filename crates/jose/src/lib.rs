//! ring-backed JOSE for certbound.
//!
//! * [`RING_PROVIDER`] is a [`jsonwebtoken::crypto::CryptoProvider`] whose
//!   verifiers and signers use ring (the crypto library used everywhere
//!   else in certbound) instead of RustCrypto. [`install`] makes it
//!   jsonwebtoken's process default; `jsonwebtoken::decode` then verifies
//!   ES256 with ring's P-256.
//! * [`jwk`]: public JWKs with jsonwebtoken's serde types, RFC 7638
//!   thumbprints, and signing-key generation ([`generate`]).
//! * [`JwtVerifier`] verifies a JWT under an explicit
//!   [`VerificationPolicy`] (algorithms, `typ`, `iss`, `aud`, leeway,
//!   required claims) into any claims type, refusing with a [`Rejection`].
//! * [`KeySetCache`] is the `kid` → key cache with a refetch rate limit,
//!   over any [`KeySource`] (a JWKS URL, a key store).
//! * [`JwsSigner`] parses a private key once and signs JWS compact
//!   serializations directly, so the token endpoint never re-parses a
//!   PKCS#8 key per token (`jsonwebtoken::encode` does, through any provider).
//!
//! The workspace builds jsonwebtoken with no crypto backend feature (no
//! `rust_crypto`, no `aws_lc_rs`). jsonwebtoken resolves its provider lazily
//! on the first sign/verify (`OnceLock::get_or_init`), and with no backend
//! feature the fallback it locks in panics. So every entry point that leads
//! to `jsonwebtoken::{encode, decode}` must call [`install`] first; certbound
//! does so wherever it builds a key ([`KeySet::from_values`],
//! [`JwtVerifier::new`], `KeySet::from_stored` in the server). `decode_header` needs no
//! provider. Keeping `rust_crypto` as a fallback would turn a forgotten
//! `install` into a silent 20x slowdown instead of a loud failure in tests,
//! and would pull p256, p384, ed25519-dalek and hmac into every build.

mod cache;
pub mod jwk;
mod keyset;
mod provider;
mod signer;
mod verify;

#[cfg(test)]
mod tests;

pub use cache::{KeySetCache, KeySource, RefetchPolicy};
pub use jwk::{GeneratedKey, generate, thumbprint};
pub use keyset::{ASYMMETRIC_ALGORITHMS, KeySet, KeyStore, RSA_ALGORITHMS, verification_key};
pub use provider::{RING_PROVIDER, install};
pub use signer::JwsSigner;
pub use verify::{
    JwtVerifier, KeyLookup, RegisteredClaim, Rejection, Signed, VerificationKey, VerificationPolicy,
};

use jsonwebtoken::Algorithm;

/// Why a key could not be loaded, a JWS could not be produced, or a JWT
/// was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum JoseError {
    /// The private key is malformed or does not fit the algorithm.
    #[error("the private key is unusable for {alg:?}: {reason}")]
    Key {
        /// The algorithm the key was loaded for.
        alg: Algorithm,
        /// What was wrong with it.
        reason: String,
    },
    /// The algorithm cannot sign with a private key (HMAC).
    #[error("{0:?} is not an asymmetric signing algorithm")]
    UnsupportedAlgorithm(Algorithm),
    /// The header or the claims did not serialise to JSON.
    #[error("serialising the JWS: {0}")]
    Json(#[from] serde_json::Error),
    /// ring refused to sign (should not happen with a key it accepted).
    #[error("signing failed")]
    Signing,
    /// The JWT was refused; the reason is data for the caller to map.
    #[error("JWT rejected: {0:?}")]
    Rejected(Rejection),
    /// The verification keys could not be obtained (the source failed and
    /// no key for the `kid` is in hand).
    #[error("verification keys unavailable: {0}")]
    KeysUnavailable(String),
}

impl From<Rejection> for JoseError {
    fn from(r: Rejection) -> Self {
        Self::Rejected(r)
    }
}
