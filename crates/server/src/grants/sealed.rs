//! A token response kept for the refresh grace window, sealed so that only
//! the holder of the rotated refresh token can read it back: the key is
//! derived (HKDF-SHA256) from that token, which the server stores only as a
//! hash. A database backup therefore yields no usable refresh token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf::{HKDF_SHA256, Salt};

use crate::ServerError;

/// Domain separation for the derived key.
const SALT: &[u8] = b"certbound refresh-token grace response v1";

fn key_for(refresh_token: &str, grant_id: &str) -> Result<LessSafeKey, ServerError> {
    let failed = || ServerError::Key("deriving the grace-response key failed".into());
    let prk = Salt::new(HKDF_SHA256, SALT).extract(refresh_token.as_bytes());
    let info = [grant_id.as_bytes()];
    let okm = prk.expand(&info, &AES_256_GCM).map_err(|_| failed())?;
    let mut key = [0u8; 32];
    okm.fill(&mut key).map_err(|_| failed())?;
    let unbound = UnboundKey::new(&AES_256_GCM, &key).map_err(|_| failed())?;
    Ok(LessSafeKey::new(unbound))
}

/// Seals `response` under `refresh_token`; the grant id is authenticated too.
pub fn seal(refresh_token: &str, grant_id: &str, response: &[u8]) -> Result<String, ServerError> {
    let key = key_for(refresh_token, grant_id)?;
    let nonce_bytes = crate::random_bytes::<NONCE_LEN>()?;
    let mut buffer = response.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce_bytes),
        Aad::from(grant_id.as_bytes()),
        &mut buffer,
    )
    .map_err(|_| ServerError::Key("sealing the grace response failed".into()))?;
    let mut out = nonce_bytes.to_vec();
    out.extend_from_slice(&buffer);
    Ok(URL_SAFE_NO_PAD.encode(out))
}

/// Opens what [`seal`] made with the same token; `None` if anything differs.
pub fn open(refresh_token: &str, grant_id: &str, sealed: &str) -> Option<Vec<u8>> {
    let key = key_for(refresh_token, grant_id).ok()?;
    let mut bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    if bytes.len() < NONCE_LEN {
        return None;
    }
    let mut ciphertext = bytes.split_off(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(&bytes).ok()?;
    let plain = key
        .open_in_place(nonce, Aad::from(grant_id.as_bytes()), &mut ciphertext)
        .ok()?;
    Some(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_token_and_grant_open_it() {
        let sealed = seal("rt-1", "g-1", b"{\"access_token\":\"x\"}").unwrap_or_default();
        assert_eq!(
            open("rt-1", "g-1", &sealed).as_deref(),
            Some(&b"{\"access_token\":\"x\"}"[..])
        );
        assert_eq!(open("rt-2", "g-1", &sealed), None);
        assert_eq!(open("rt-1", "g-2", &sealed), None);
        assert_eq!(open("rt-1", "g-1", "AAAA"), None);
        assert_eq!(open("rt-1", "g-1", "not base64!"), None);
        // A fresh nonce each time: the same response seals differently.
        assert_ne!(
            seal("rt-1", "g-1", b"a").ok(),
            seal("rt-1", "g-1", b"a").ok()
        );
    }
}
