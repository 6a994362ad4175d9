//! Tokens whose signature and claims already passed, by exact token text, so
//! a client reusing its token (the normal case) costs one hash lookup
//! instead of a signature verification per request. An entry is used only
//! while the token is unexpired and the JWKS it was checked against is
//! unchanged; the binding is still checked on every request.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use crate::VerifiedToken;

/// Bounds memory: beyond this, expired entries go, then everything.
const MAX_ENTRIES: usize = 10_000;

struct Entry {
    token: Arc<VerifiedToken>,
    /// The JWKS generation the signature was verified under.
    keys_generation: u64,
}

/// Verified JWTs by token text. Keys are hashed with foldhash: a token is
/// ~700 bytes hashed on every request, SipHash costs several times more,
/// and only tokens whose signature verified are ever stored, so a caller
/// cannot choose the keys.
#[derive(Default)]
pub(crate) struct VerifiedCache {
    entries: RwLock<HashMap<Box<[u8]>, Entry, foldhash::fast::RandomState>>,
}

impl VerifiedCache {
    /// The cached result for `token`, if still usable at `now` (Unix seconds).
    pub(crate) fn get(
        &self,
        token: &[u8],
        now: i64,
        leeway: i64,
        keys_generation: u64,
    ) -> Option<Arc<VerifiedToken>> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get(token)?;
        // Same rule as the full check (RFC 7519 §4.1.4): valid while
        // now < exp + leeway.
        (entry.keys_generation == keys_generation
            && entry.token.expires_at > now.saturating_sub(leeway))
        .then(|| Arc::clone(&entry.token))
    }

    /// Remembers a token that just passed every check.
    pub(crate) fn insert(
        &self,
        token: &str,
        verified: &Arc<VerifiedToken>,
        keys_generation: u64,
        now: i64,
    ) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| e.token.expires_at > now && e.keys_generation == keys_generation);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            token.as_bytes().into(),
            Entry {
                token: Arc::clone(verified),
                keys_generation,
            },
        );
    }

    /// How many tokens are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(exp: i64) -> Arc<VerifiedToken> {
        Arc::new(VerifiedToken {
            client_id: "c".into(),
            subject: "c".into(),
            scopes: vec!["read".into()],
            thumbprint: None,
            jti: "j".into(),
            audience: "a".into(),
            expires_at: exp,
            identity: Default::default(),
        })
    }

    #[test]
    fn entries_end_with_expiry_and_with_a_new_key_set() {
        let cache = VerifiedCache::default();
        cache.insert("t", &token(100), 1, 50);
        assert_eq!(cache.get(b"t", 50, 5, 1), Some(token(100)));
        assert_eq!(
            cache.get(b"t", 104, 5, 1),
            Some(token(100)),
            "within leeway"
        );
        assert_eq!(cache.get(b"t", 105, 5, 1), None, "expired");
        assert_eq!(cache.get(b"t", 50, 5, 2), None, "JWKS changed");
        assert_eq!(cache.get(b"u", 50, 5, 1), None, "another token");
    }

    #[test]
    fn size_is_bounded() {
        let cache = VerifiedCache::default();
        for i in 0..MAX_ENTRIES {
            cache.insert(&format!("live{i}"), &token(1_000), 1, 0);
        }
        cache.insert("one-more", &token(1_000), 1, 0);
        assert!(cache.len() <= MAX_ENTRIES);
        assert_eq!(cache.get(b"one-more", 0, 0, 1), Some(token(1_000)));
    }
}
