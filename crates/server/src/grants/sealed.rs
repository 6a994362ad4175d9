//! A token response kept for the refresh grace window, sealed so that only
//! the holder of the rotated refresh token can read it back: the key is
//! derived (HKDF-SHA256) from that token, which the server stores only as a
//! hash. A database backup therefore yields no usable refresh token.

use ring::aead::AES_256_GCM;
use ring::hkdf::{HKDF_SHA256, Salt};

use crate::ServerError;
use crate::aead::SealingKey;

/// Domain separation for the derived key.
const SALT: &[u8] = b"certbound refresh-token grace response v1";

fn key_for(refresh_token: &str, grant_id: &str) -> Result<SealingKey, ServerError> {
    let failed = || ServerError::Key("deriving the grace-response key failed".into());
    let prk = Salt::new(HKDF_SHA256, SALT).extract(refresh_token.as_bytes());
    let info = [grant_id.as_bytes()];
    let okm = prk.expand(&info, &AES_256_GCM).map_err(|_| failed())?;
    let mut key = [0u8; 32];
    okm.fill(&mut key).map_err(|_| failed())?;
    SealingKey::new(&key)
}

/// Seals `response` under `refresh_token`; the grant id is authenticated too.
pub fn seal(refresh_token: &str, grant_id: &str, response: &[u8]) -> Result<String, ServerError> {
    key_for(refresh_token, grant_id)?.seal(grant_id.as_bytes(), response)
}

/// Opens what [`seal`] made with the same token; `None` if anything differs.
pub fn open(refresh_token: &str, grant_id: &str, sealed: &str) -> Option<Vec<u8>> {
    key_for(refresh_token, grant_id)
        .ok()?
        .open(grant_id.as_bytes(), sealed)
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
