//! The one sealing format the server uses for what it keeps encrypted:
//! AES-256-GCM (ring) with a fresh random nonce in front of the ciphertext,
//! base64url without padding.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use crate::ServerError;

/// An AES-256-GCM key; its `Debug` shows nothing of it.
pub(crate) struct SealingKey(LessSafeKey);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(..)")
    }
}

impl SealingKey {
    /// The key made of these 32 bytes.
    pub(crate) fn new(bytes: &[u8; 32]) -> Result<Self, ServerError> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| ServerError::Key("building an AES-256-GCM key failed".into()))?;
        Ok(Self(LessSafeKey::new(unbound)))
    }

    /// Seals `plain`, authenticating `aad` with it.
    pub(crate) fn seal(&self, aad: &[u8], plain: &[u8]) -> Result<String, ServerError> {
        let nonce = crate::random_bytes::<NONCE_LEN>()?;
        let mut buffer = plain.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buffer,
            )
            .map_err(|_| ServerError::Key("AES-256-GCM sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buffer);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens what [`SealingKey::seal`] made with this key and `aad`; `None`
    /// if the key, the `aad` or a byte of `sealed` differs.
    pub(crate) fn open(&self, aad: &[u8], sealed: &str) -> Option<Vec<u8>> {
        let mut bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let mut ciphertext = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).ok()?;
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(aad), &mut ciphertext)
            .ok()?;
        Some(plain.to_vec())
    }
}
