//! Opaque tokens: RFC 7662 introspection with the guard's own mTLS identity,
//! and a short cache so a busy resource does not call the AS per request.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use tokio::sync::RwLock;

use crate::error::InvalidToken;
use crate::fetch::Fetcher;
use crate::verifier::IntrospectionResponse;
use crate::{GuardError, GuardOptions, IntrospectionOptions, VerifiedToken};

/// Entries kept at most; the cache is cleared when full (simple and bounded).
const MAX_ENTRIES: usize = 10_000;

pub(crate) struct Introspector {
    fetcher: Fetcher,
    endpoint: String,
    options: IntrospectionOptions,
    cache: RwLock<HashMap<String, (Instant, Option<VerifiedToken>)>>,
}

impl Introspector {
    pub(crate) fn new(fetcher: Fetcher, endpoint: String, options: IntrospectionOptions) -> Self {
        Self {
            fetcher,
            endpoint,
            options,
            cache: RwLock::new(HashMap::new()),
        }
    }

    pub(crate) async fn introspect(
        &self,
        token: &str,
        guard: &GuardOptions,
    ) -> Result<VerifiedToken, GuardError> {
        // Keyed by hash: the cache never holds a usable token.
        let key = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
        let clock = guard.clock.as_ref();
        if let Some((until, answer)) = self.cache.read().await.get(&key)
            && clock.instant() < *until
        {
            return answer.clone().ok_or_else(inactive);
        }
        let response: IntrospectionResponse = self
            .fetcher
            .post_form(
                &self.endpoint,
                &[
                    ("client_id", self.options.client_id.as_str()),
                    ("token", token),
                ],
            )
            .await?;
        let answer = response.into_verified(guard)?;
        let ttl = match &answer {
            Some(t) => {
                let left = u64::try_from(t.expires_at - clock.unix_seconds()).unwrap_or(0);
                self.options.positive_ttl.min(Duration::from_secs(left))
            }
            None => self.options.negative_ttl,
        };
        let mut cache = self.cache.write().await;
        if cache.len() >= MAX_ENTRIES {
            // Drop what has expired first; clear only if that is not enough.
            let now = clock.instant();
            cache.retain(|_, (until, _)| *until > now);
            if cache.len() >= MAX_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(key, (clock.instant() + ttl, answer.clone()));
        answer.ok_or_else(inactive)
    }
}

fn inactive() -> GuardError {
    GuardError::InvalidToken(InvalidToken::NotActive)
}
