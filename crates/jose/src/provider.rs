//! [`RING_PROVIDER`]: jsonwebtoken's crypto, done by ring.
//!
//! Key formats are the ones jsonwebtoken stores: a [`DecodingKey`] holds an
//! uncompressed SEC1 point (EC), the raw 32-byte key (Ed25519), PKCS#1
//! `RSAPublicKey` DER or (n, e) (RSA), or the secret (HMAC); an
//! [`EncodingKey`] holds PKCS#8 (EC, Ed25519), PKCS#1 (RSA) or the secret.

use std::sync::Once;

use jsonwebtoken::crypto::{CryptoProvider, JwkUtils, JwtSigner, JwtVerifier};
use jsonwebtoken::errors::{Error, ErrorKind, Result};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED,
    ECDSA_P384_SHA384_FIXED_SIGNING, ED25519, EcdsaKeyPair, KeyPair, RSA_PKCS1_2048_8192_SHA256,
    RSA_PKCS1_2048_8192_SHA384, RSA_PKCS1_2048_8192_SHA512, RSA_PSS_2048_8192_SHA256,
    RSA_PSS_2048_8192_SHA384, RSA_PSS_2048_8192_SHA512, RsaKeyPair, RsaParameters,
    RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm,
};
use ring::{digest, hmac};

use crate::JoseError;
use crate::signer::SigningKey;

/// jsonwebtoken's [`CryptoProvider`], backed by ring.
pub static RING_PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    jwk_utils: JwkUtils {
        extract_rsa_public_key_components,
        extract_ec_public_key_coordinates,
        compute_digest,
    },
};

/// Makes [`RING_PROVIDER`] jsonwebtoken's process default; cheap to call
/// again (one atomic load). If another provider was installed first it is
/// left in place.
pub fn install() {
    static ONCE: Once = Once::new();
    // Err means a provider is already the default: either one installed by
    // the application (respected) or ours; both are fine.
    ONCE.call_once(|| {
        let _ = RING_PROVIDER.install_default();
    });
}

fn family_mismatch() -> Error {
    ErrorKind::InvalidKeyFormat.into()
}

// ---- verification ----------------------------------------------------------

/// Longest inline public key: an uncompressed P-384 point.
const MAX_POINT_LEN: usize = 97;

/// The public key, copied into the verifier: the factory must return an
/// owned `'static` box, so it cannot borrow the [`DecodingKey`]. EC and
/// Ed25519 keys live inline in that one box allocation.
enum PublicKey {
    Point {
        alg: &'static dyn VerificationAlgorithm,
        bytes: [u8; MAX_POINT_LEN],
        len: usize,
    },
    RsaDer(&'static RsaParameters, Vec<u8>),
    /// `n` then `e`, in one allocation.
    RsaComponents(&'static RsaParameters, Vec<u8>, usize),
    Hmac(hmac::Key),
}

struct RingVerifier {
    alg: Algorithm,
    key: PublicKey,
}

impl Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        let ok = match &self.key {
            PublicKey::Point { alg, bytes, len } => {
                UnparsedPublicKey::new(*alg, &bytes[..*len]).verify(msg, sig)
            }
            PublicKey::RsaDer(params, der) => {
                UnparsedPublicKey::new(*params, der.as_slice()).verify(msg, sig)
            }
            PublicKey::RsaComponents(params, ne, n_len) => {
                let (n, e) = ne.split_at(*n_len);
                RsaPublicKeyComponents { n, e }.verify(params, msg, sig)
            }
            PublicKey::Hmac(key) => hmac::verify(key, msg, sig),
        };
        ok.map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

fn point(
    alg: &'static dyn VerificationAlgorithm,
    key: &[u8],
    expected_len: usize,
    invalid: ErrorKind,
) -> Result<PublicKey> {
    if key.len() != expected_len || expected_len > MAX_POINT_LEN {
        return Err(invalid.into());
    }
    let mut bytes = [0; MAX_POINT_LEN];
    bytes[..expected_len].copy_from_slice(key);
    Ok(PublicKey::Point {
        alg,
        bytes,
        len: expected_len,
    })
}

fn rsa_public(params: &'static RsaParameters, key: &DecodingKey) -> PublicKey {
    match key.kind() {
        DecodingKeyKind::SecretOrDer(der) => PublicKey::RsaDer(params, der.clone()),
        DecodingKeyKind::RsaModulusExponent { n, e } => {
            let mut ne = Vec::with_capacity(n.len() + e.len());
            ne.extend_from_slice(n);
            ne.extend_from_slice(e);
            PublicKey::RsaComponents(params, ne, n.len())
        }
    }
}

fn new_verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    let alg = *alg;
    if key.family() != alg.family() {
        return Err(family_mismatch());
    }
    let bytes = || match key.kind() {
        DecodingKeyKind::SecretOrDer(b) => Ok(b.as_slice()),
        DecodingKeyKind::RsaModulusExponent { .. } => Err(family_mismatch()),
    };
    let public = match alg {
        Algorithm::ES256 => point(
            &ECDSA_P256_SHA256_FIXED,
            bytes()?,
            65,
            ErrorKind::InvalidEcdsaKey,
        )?,
        Algorithm::ES384 => point(
            &ECDSA_P384_SHA384_FIXED,
            bytes()?,
            97,
            ErrorKind::InvalidEcdsaKey,
        )?,
        Algorithm::EdDSA => point(&ED25519, bytes()?, 32, ErrorKind::InvalidEddsaKey)?,
        Algorithm::RS256 => rsa_public(&RSA_PKCS1_2048_8192_SHA256, key),
        Algorithm::RS384 => rsa_public(&RSA_PKCS1_2048_8192_SHA384, key),
        Algorithm::RS512 => rsa_public(&RSA_PKCS1_2048_8192_SHA512, key),
        Algorithm::PS256 => rsa_public(&RSA_PSS_2048_8192_SHA256, key),
        Algorithm::PS384 => rsa_public(&RSA_PSS_2048_8192_SHA384, key),
        Algorithm::PS512 => rsa_public(&RSA_PSS_2048_8192_SHA512, key),
        Algorithm::HS256 => PublicKey::Hmac(hmac::Key::new(hmac::HMAC_SHA256, bytes()?)),
        Algorithm::HS384 => PublicKey::Hmac(hmac::Key::new(hmac::HMAC_SHA384, bytes()?)),
        Algorithm::HS512 => PublicKey::Hmac(hmac::Key::new(hmac::HMAC_SHA512, bytes()?)),
    };
    Ok(Box::new(RingVerifier { alg, key: public }))
}

// ---- signing (parses the key on every call; the hot path uses JwsSigner) ---

struct RingSigner {
    alg: Algorithm,
    key: SigningKey,
    rng: SystemRandom,
}

impl Signer<Vec<u8>> for RingSigner {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        self.key
            .sign(&self.rng, msg)
            .map(|sig| sig.as_ref().to_vec())
            .map_err(signature::Error::from_source)
    }
}

impl JwtSigner for RingSigner {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

fn new_signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    let alg = *alg;
    if key.family() != alg.family() {
        return Err(family_mismatch());
    }
    let rng = SystemRandom::new();
    let key = match alg {
        Algorithm::HS256 => SigningKey::Hmac(hmac::Key::new(hmac::HMAC_SHA256, key.inner())),
        Algorithm::HS384 => SigningKey::Hmac(hmac::Key::new(hmac::HMAC_SHA384, key.inner())),
        Algorithm::HS512 => SigningKey::Hmac(hmac::Key::new(hmac::HMAC_SHA512, key.inner())),
        _ => SigningKey::asymmetric(alg, key.inner(), &rng).map_err(|e| key_error(alg, e))?,
    };
    Ok(Box::new(RingSigner { alg, key, rng }))
}

fn key_error(alg: Algorithm, e: JoseError) -> Error {
    match alg.family() {
        AlgorithmFamily::Ec => ErrorKind::InvalidEcdsaKey.into(),
        AlgorithmFamily::Ed => ErrorKind::InvalidEddsaKey.into(),
        AlgorithmFamily::Rsa => ErrorKind::InvalidRsaKey(e.to_string()).into(),
        AlgorithmFamily::Hmac => ErrorKind::InvalidKeyFormat.into(),
    }
}

// ---- JWK helpers -----------------------------------------------------------

fn extract_rsa_public_key_components(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let pair = RsaKeyPair::from_der(der)
        .or_else(|_| RsaKeyPair::from_pkcs8(der))
        .map_err(|e| ErrorKind::InvalidRsaKey(e.to_string()))?;
    let public = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
    Ok((public.n, public.e))
}

fn extract_ec_public_key_coordinates(
    der: &[u8],
    alg: Algorithm,
) -> Result<(EllipticCurve, Vec<u8>, Vec<u8>)> {
    let (signing, curve) = match alg {
        Algorithm::ES256 => (&ECDSA_P256_SHA256_FIXED_SIGNING, EllipticCurve::P256),
        Algorithm::ES384 => (&ECDSA_P384_SHA384_FIXED_SIGNING, EllipticCurve::P384),
        _ => return Err(ErrorKind::InvalidEcdsaKey.into()),
    };
    let pair = EcdsaKeyPair::from_pkcs8(signing, der, &SystemRandom::new())
        .map_err(|_| ErrorKind::InvalidEcdsaKey)?;
    match pair.public_key().as_ref().split_first() {
        Some((4, xy)) if xy.len() % 2 == 0 => {
            let (x, y) = xy.split_at(xy.len() / 2);
            Ok((curve, x.to_vec(), y.to_vec()))
        }
        _ => Err(ErrorKind::InvalidEcdsaKey.into()),
    }
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Vec<u8> {
    let alg = match hash {
        ThumbprintHash::SHA256 => &digest::SHA256,
        ThumbprintHash::SHA384 => &digest::SHA384,
        ThumbprintHash::SHA512 => &digest::SHA512,
    };
    digest::digest(alg, data).as_ref().to_vec()
}
