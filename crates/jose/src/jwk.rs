//! Public JWKs (RFC 7517) built with jsonwebtoken's serde types, RFC 7638
//! thumbprints, and generation of the signing keys the server uses.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, KeyAlgorithm, OctetKeyPairParameters, OctetKeyPairType,
    PublicKeyUse, RSAKeyParameters, RSAKeyType,
};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use rsa::pkcs8::EncodePrivateKey;
use rsa::traits::PublicKeyParts;

use crate::JoseError;

/// Bits of the RSA keys [`generate`] makes (RFC 7518 §3.3 minimum).
const RSA_BITS: usize = 2048;

/// A freshly generated signing key.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    /// The JWS algorithm it signs with.
    pub alg: Algorithm,
    /// Its `kid`: the RFC 7638 thumbprint of its public JWK.
    pub kid: String,
    /// The private key as a `-----BEGIN PRIVATE KEY-----` (PKCS#8) PEM.
    pub private_key_pem: String,
    /// The public JWK with `kid`, `alg` and `use: sig`.
    pub public_jwk: Jwk,
}

/// Generates a key for `alg`: ES256 and EdDSA with ring, RS256 and PS256
/// (2048-bit RSA) with the `rsa` crate.
pub fn generate(alg: Algorithm) -> Result<GeneratedKey, JoseError> {
    let failed = |reason: String| JoseError::Key { alg, reason };
    let rng = SystemRandom::new();
    let (pkcs8, params) = match alg {
        Algorithm::ES256 => {
            let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| failed("ring could not generate a P-256 key".into()))?;
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng)
                    .map_err(|e| failed(e.to_string()))?;
            (
                doc.as_ref().to_vec(),
                ec_p256_params(pair.public_key().as_ref())?,
            )
        }
        Algorithm::EdDSA => {
            let doc = Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|_| failed("ring could not generate an Ed25519 key".into()))?;
            let pair =
                Ed25519KeyPair::from_pkcs8(doc.as_ref()).map_err(|e| failed(e.to_string()))?;
            (
                doc.as_ref().to_vec(),
                ed25519_params(pair.public_key().as_ref()),
            )
        }
        Algorithm::RS256 | Algorithm::PS256 => {
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS)
                .map_err(|e| failed(e.to_string()))?;
            let der = key.to_pkcs8_der().map_err(|e| failed(e.to_string()))?;
            let params = rsa_params(&key.n().to_bytes_be(), &key.e().to_bytes_be());
            (der.as_bytes().to_vec(), params)
        }
        other => return Err(JoseError::UnsupportedAlgorithm(other)),
    };
    let public_jwk = signing_jwk(alg, params)?;
    let kid = public_jwk.common.key_id.clone().unwrap_or_default();
    Ok(GeneratedKey {
        alg,
        kid,
        private_key_pem: pkcs8_pem(&pkcs8),
        public_jwk,
    })
}

/// The public JWK of a signing key: the key parameters plus `kid` (its
/// RFC 7638 thumbprint), `alg` and `use: sig`.
pub fn signing_jwk(alg: Algorithm, params: AlgorithmParameters) -> Result<Jwk, JoseError> {
    let mut jwk = Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(key_algorithm(alg)?),
            ..CommonParameters::default()
        },
        algorithm: params,
    };
    jwk.common.key_id = Some(thumbprint(&jwk)?);
    Ok(jwk)
}

/// EC P-256 parameters from an uncompressed SEC1 point (`04 || x || y`).
pub fn ec_p256_params(point: &[u8]) -> Result<AlgorithmParameters, JoseError> {
    match point {
        [4, rest @ ..] if rest.len() == 64 => {
            let (x, y) = rest.split_at(32);
            Ok(AlgorithmParameters::EllipticCurve(
                EllipticCurveKeyParameters {
                    key_type: EllipticCurveKeyType::EC,
                    curve: EllipticCurve::P256,
                    x: B64.encode(x),
                    y: B64.encode(y),
                },
            ))
        }
        _ => Err(JoseError::Key {
            alg: Algorithm::ES256,
            reason: "not an uncompressed P-256 point".into(),
        }),
    }
}

/// OKP Ed25519 parameters from the 32-byte public key.
pub fn ed25519_params(public_key: &[u8]) -> AlgorithmParameters {
    AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
        key_type: OctetKeyPairType::OctetKeyPair,
        curve: EllipticCurve::Ed25519,
        x: B64.encode(public_key),
    })
}

/// RSA parameters from the big-endian modulus and exponent.
pub fn rsa_params(n: &[u8], e: &[u8]) -> AlgorithmParameters {
    AlgorithmParameters::RSA(RSAKeyParameters {
        key_type: RSAKeyType::RSA,
        n: B64.encode(n),
        e: B64.encode(e),
    })
}

/// The RFC 7638 SHA-256 thumbprint of a public JWK, base64url.
pub fn thumbprint(jwk: &Jwk) -> Result<String, JoseError> {
    // RFC 7638 §3.2: the required members only, sorted, no whitespace; a
    // BTreeMap gives the order whatever serde_json's map features are.
    let members: BTreeMap<&str, &str> = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(p) => BTreeMap::from([
            ("crv", curve_name(&p.curve)),
            ("kty", "EC"),
            ("x", p.x.as_str()),
            ("y", p.y.as_str()),
        ]),
        AlgorithmParameters::OctetKeyPair(p) => BTreeMap::from([
            ("crv", curve_name(&p.curve)),
            ("kty", "OKP"),
            ("x", p.x.as_str()),
        ]),
        AlgorithmParameters::RSA(p) => {
            BTreeMap::from([("e", p.e.as_str()), ("kty", "RSA"), ("n", p.n.as_str())])
        }
        AlgorithmParameters::OctetKey(p) => {
            BTreeMap::from([("k", p.value.as_str()), ("kty", "oct")])
        }
    };
    let canonical = serde_json::to_vec(&members)?;
    Ok(B64.encode(ring::digest::digest(&ring::digest::SHA256, &canonical)))
}

fn curve_name(curve: &EllipticCurve) -> &'static str {
    match curve {
        EllipticCurve::P256 => "P-256",
        EllipticCurve::P384 => "P-384",
        EllipticCurve::P521 => "P-521",
        EllipticCurve::Ed25519 => "Ed25519",
    }
}

/// The JWK `alg` for a JWS algorithm.
pub fn key_algorithm(alg: Algorithm) -> Result<KeyAlgorithm, JoseError> {
    Ok(match alg {
        Algorithm::ES256 => KeyAlgorithm::ES256,
        Algorithm::ES384 => KeyAlgorithm::ES384,
        Algorithm::RS256 => KeyAlgorithm::RS256,
        Algorithm::RS384 => KeyAlgorithm::RS384,
        Algorithm::RS512 => KeyAlgorithm::RS512,
        Algorithm::PS256 => KeyAlgorithm::PS256,
        Algorithm::PS384 => KeyAlgorithm::PS384,
        Algorithm::PS512 => KeyAlgorithm::PS512,
        Algorithm::EdDSA => KeyAlgorithm::EdDSA,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            return Err(JoseError::UnsupportedAlgorithm(alg));
        }
    })
}

/// PKCS#8 DER as PEM (RFC 7468: 64-column base64 lines).
fn pkcs8_pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = String::with_capacity(body.len() + body.len() / 64 + 64);
    pem.push_str("-----BEGIN PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}
