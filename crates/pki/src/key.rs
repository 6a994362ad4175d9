//! Key algorithms the dev PKI can generate.

use std::fmt;
use std::str::FromStr;

use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ED25519, PKCS_RSA_SHA256};
use rsa::pkcs8::EncodePrivateKey;
use rustls_pki_types::PrivatePkcs8KeyDer;

use crate::PkiError;

/// The key type of a generated certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyAlgorithm {
    /// ECDSA on P-256 with SHA-256: small, fast, FAPI-approved. The default.
    #[default]
    EcdsaP256,
    /// Ed25519.
    Ed25519,
    /// RSA 2048 with PKCS#1 v1.5 SHA-256 signatures, for legacy clients.
    Rsa2048,
}

impl KeyAlgorithm {
    /// Generates a fresh key pair of this type.
    pub fn generate(self) -> Result<KeyPair, PkiError> {
        match self {
            Self::EcdsaP256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
                .map_err(PkiError::crypto("generate an ECDSA P-256 key")),
            Self::Ed25519 => KeyPair::generate_for(&PKCS_ED25519)
                .map_err(PkiError::crypto("generate an Ed25519 key")),
            Self::Rsa2048 => {
                // ring (our crypto backend) cannot generate RSA keys; the RustCrypto
                // `rsa` crate does, and rcgen signs with the PKCS#8 it produces.
                let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
                    .map_err(|e| PkiError::Rsa(e.to_string()))?;
                let der = key
                    .to_pkcs8_der()
                    .map_err(|e| PkiError::Rsa(e.to_string()))?;
                KeyPair::from_pkcs8_der_and_sign_algo(
                    &PrivatePkcs8KeyDer::from(der.as_bytes()),
                    &PKCS_RSA_SHA256,
                )
                .map_err(PkiError::crypto("load the generated RSA key"))
            }
        }
    }

    /// The names accepted by `--alg`.
    pub const NAMES: &'static [&'static str] = &["ecdsa-p256", "ed25519", "rsa2048"];
}

impl FromStr for KeyAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "ecdsa-p256" | "ecdsa" | "p256" | "es256" => Ok(Self::EcdsaP256),
            "ed25519" | "eddsa" => Ok(Self::Ed25519),
            "rsa2048" | "rsa" => Ok(Self::Rsa2048),
            _ => Err(format!(
                "unknown key algorithm '{s}'; use one of {}",
                Self::NAMES.join(", ")
            )),
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EcdsaP256 => "ecdsa-p256",
            Self::Ed25519 => "ed25519",
            Self::Rsa2048 => "rsa2048",
        })
    }
}
