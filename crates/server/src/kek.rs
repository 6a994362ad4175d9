//! Key-encryption keys (KEKs): every private signing key is sealed under
//! one (AES-256-GCM) before it reaches the store, so a copy of the database
//! alone cannot mint tokens. The KEK comes from a file (`keys.kek_file`) or
//! the environment (`CERTBOUND_KEK`) and never enters the store; its id,
//! stored beside each sealed key, says which KEK opens it, so the KEK can be
//! rotated (`keys.previous_kek_files`, then `certbound keys rewrap`).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use certbound_store::{ResealedKey, StoredSigningKey};
use sha2::{Digest, Sha256};

use crate::ServerError;
use crate::aead::SealingKey;
use crate::config::KeysConfig;

/// The environment variable that may hold the KEK itself (base64).
pub const KEK_ENV: &str = "CERTBOUND_KEK";

/// Domain separation for KEK ids: an id names a KEK without revealing it.
const ID_PREFIX: &[u8] = b"certbound key-encryption key id v1\0";

/// Authenticated with each sealed signing key, so a sealed value copied to
/// another key's row does not open there.
fn signing_key_aad(kid: &str, alg: &str) -> Vec<u8> {
    format!("certbound signing key v1\0{kid}\0{alg}").into_bytes()
}

fn kek_error(message: impl Into<String>) -> ServerError {
    ServerError::KeyEncryption(message.into())
}

/// One key-encryption key: 32 random bytes.
#[derive(Debug)]
pub struct KeyEncryptionKey {
    id: String,
    key: SealingKey,
}

impl KeyEncryptionKey {
    fn from_bytes(bytes: &[u8; 32]) -> Result<Self, ServerError> {
        let mut hasher = Sha256::new();
        hasher.update(ID_PREFIX);
        hasher.update(bytes);
        let digest = hasher.finalize();
        let id = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self {
            id,
            key: SealingKey::new(bytes)?,
        })
    }

    /// A new random KEK and its text form (what [`Self::from_text`] reads).
    pub fn generate() -> Result<(Self, String), ServerError> {
        let bytes = crate::random_bytes::<32>()?;
        Ok((Self::from_bytes(&bytes)?, URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Reads a KEK written as base64 (standard or URL-safe, padded or not)
    /// of exactly 32 bytes; `source` names where it came from in errors.
    pub fn from_text(text: &str, source: &str) -> Result<Self, ServerError> {
        let trimmed = text.trim().trim_end_matches('=');
        let decoded = if trimmed.contains(['+', '/']) {
            STANDARD_NO_PAD.decode(trimmed)
        } else {
            URL_SAFE_NO_PAD.decode(trimmed)
        };
        let bytes: [u8; 32] = decoded
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                kek_error(format!(
                    "{source} does not hold a key-encryption key: expected 32 bytes in base64 \
                     (`certbound keys new-kek` makes one)"
                ))
            })?;
        Self::from_bytes(&bytes)
    }

    /// Reads the KEK in `path`.
    pub fn read_file(path: &Path) -> Result<Self, ServerError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "; for a new database create one with `certbound keys new-kek --out {}` \
                     (keys already stored open only with the KEK they were sealed under)",
                    path.display()
                )
            } else {
                String::new()
            };
            kek_error(format!(
                "reading the key-encryption key {}: {e}{hint}",
                path.display()
            ))
        })?;
        Self::from_text(&text, &path.display().to_string())
    }

    /// Creates `path` owner-only (0600) holding a new KEK; refuses to
    /// overwrite an existing file, whose KEK may be the only way to open
    /// the stored keys.
    pub fn create_file(path: &Path) -> Result<Self, ServerError> {
        let (kek, text) = Self::generate()?;
        let failed = |e: std::io::Error| {
            kek_error(format!(
                "creating the key-encryption key file {}: {e}",
                path.display()
            ))
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(failed)?;
        file.write_all(format!("{text}\n").as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(failed)?;
        Ok(kek)
    }

    /// The id stored beside what this KEK seals: 16 hex digits of a hash.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The KEKs this process holds: the current one seals; it and the previous
/// ones (during a KEK rotation) open.
#[derive(Debug)]
pub struct KeyEncryption {
    current: KeyEncryptionKey,
    previous: Vec<KeyEncryptionKey>,
}

impl KeyEncryption {
    /// Sealing with `current`, opening with it and `previous`.
    pub fn new(current: KeyEncryptionKey, previous: Vec<KeyEncryptionKey>) -> Self {
        Self { current, previous }
    }

    /// The KEKs `[keys]` names: `kek_file` or `CERTBOUND_KEK` (exactly one
    /// of them), plus `previous_kek_files`.
    pub fn from_config(keys: &KeysConfig) -> Result<Self, ServerError> {
        let current = match (&keys.kek_file, keys.kek_from_env()) {
            (Some(_), Some(_)) => {
                return Err(kek_error(format!(
                    "both keys.kek_file and {KEK_ENV} are set; keep the one that holds the current key"
                )));
            }
            (Some(path), None) => KeyEncryptionKey::read_file(path)?,
            (None, Some(text)) => KeyEncryptionKey::from_text(text, KEK_ENV)?,
            (None, None) => {
                return Err(kek_error(format!(
                    "none is configured, and the signing keys are stored sealed under one: \
                     create one with `certbound keys new-kek --out FILE` and set keys.kek_file \
                     to FILE (or put it in {KEK_ENV}); keep it apart from database backups"
                )));
            }
        };
        let previous = keys
            .previous_kek_files
            .iter()
            .map(|p| KeyEncryptionKey::read_file(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(current, previous))
    }

    /// The id of the KEK new keys are sealed under.
    pub fn current_id(&self) -> &str {
        self.current.id()
    }

    /// Seals a private key (PKCS#8 PEM) for storage: (sealed, KEK id).
    pub fn seal_private_key(
        &self,
        kid: &str,
        alg: &str,
        pem: &str,
    ) -> Result<(String, String), ServerError> {
        let sealed = self
            .current
            .key
            .seal(&signing_key_aad(kid, alg), pem.as_bytes())?;
        Ok((sealed, self.current.id.clone()))
    }

    /// The PEM private key of a stored key. A key an earlier version stored
    /// unsealed (`kek_id` NULL) is returned as it is.
    pub fn open_private_key(&self, key: &StoredSigningKey) -> Result<String, ServerError> {
        let Some(kek_id) = key.kek_id.as_deref() else {
            return Ok(key.private_key.clone());
        };
        let kek = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == kek_id)
            .ok_or_else(|| {
                kek_error(format!(
                    "signing key {kid} is sealed under key-encryption key {kek_id}, which is not \
                     configured (the current one is {current}): set keys.kek_file or {KEK_ENV} to \
                     the key it was sealed with; to rotate, list the old key in \
                     keys.previous_kek_files and run `certbound keys rewrap`",
                    kid = key.kid,
                    current = self.current.id,
                ))
            })?;
        let plain = kek
            .key
            .open(&signing_key_aad(&key.kid, &key.alg), &key.private_key)
            .ok_or_else(|| {
                kek_error(format!(
                    "signing key {} does not open under key-encryption key {kek_id}: the stored \
                     value was altered or damaged",
                    key.kid
                ))
            })?;
        String::from_utf8(plain).map_err(|_| {
            kek_error(format!(
                "signing key {} opened to something that is not a PEM key",
                key.kid
            ))
        })
    }

    /// `key` sealed under the current KEK, or `None` if it already is.
    pub fn reseal(&self, key: &StoredSigningKey) -> Result<Option<ResealedKey>, ServerError> {
        if key.kek_id.as_deref() == Some(self.current.id()) {
            return Ok(None);
        }
        let pem = self.open_private_key(key)?;
        let (private_key, kek_id) = self.seal_private_key(&key.kid, &key.alg, &pem)?;
        Ok(Some(ResealedKey {
            kid: key.kid.clone(),
            replaces: key.private_key.clone(),
            private_key,
            kek_id,
        }))
    }
}

#[cfg(test)]
mod tests;
