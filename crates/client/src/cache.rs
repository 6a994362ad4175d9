//! The cached access token, when to refresh it, and single-flight fetching:
//! callers that find the token missing or due for refresh while another
//! caller is fetching one wait for that fetch and share its outcome.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use tracing::warn;

use crate::ClientError;

/// When a cached token is replaced: `margin` before it expires, where the
/// margin is the smaller of `max_margin` and `fraction` of its lifetime.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefreshPolicy {
    /// Upper bound of the margin (default 30 s).
    pub max_margin: Duration,
    /// Share of the token lifetime used as margin, 0.0 to 1.0 (default 0.1).
    pub fraction: f64,
    /// Lifetime assumed when the server sends no `expires_in` (default 60 s).
    pub assumed_lifetime: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            max_margin: Duration::from_secs(30),
            fraction: 0.1,
            assumed_lifetime: Duration::from_secs(60),
        }
    }
}

/// Longest lifetime taken at face value (larger `expires_in` values are capped).
const MAX_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

impl RefreshPolicy {
    /// How long before expiry a token of `lifetime` is refreshed.
    pub fn margin(&self, lifetime: Duration) -> Duration {
        let fraction = if (0.0..=1.0).contains(&self.fraction) {
            self.fraction
        } else {
            Self::default().fraction
        };
        lifetime
            .min(MAX_LIFETIME)
            .mul_f64(fraction)
            .min(self.max_margin)
    }
}

/// An access token with its lifetime as seen by this client.
#[derive(Clone)]
pub struct AccessToken {
    value: String,
    token_type: String,
    scope: Option<String>,
    obtained_at: Instant,
    expires_at: Option<Instant>,
    refresh_at: Option<Instant>,
}

impl AccessToken {
    /// A token obtained at `obtained_at` (taken before the request was sent)
    /// valid for `expires_in` seconds.
    pub(crate) fn new(
        value: String,
        token_type: String,
        scope: Option<String>,
        expires_in: Option<i64>,
        obtained_at: Instant,
        policy: &RefreshPolicy,
    ) -> Self {
        let lifetime = match expires_in {
            Some(secs) => Duration::from_secs(u64::try_from(secs).unwrap_or(0)),
            None => policy.assumed_lifetime,
        }
        .min(MAX_LIFETIME);
        let expires_at = obtained_at.checked_add(lifetime);
        let refresh_at = expires_at.map(|at| {
            at.checked_sub(policy.margin(lifetime))
                .unwrap_or(obtained_at)
        });
        Self {
            value,
            token_type,
            scope,
            obtained_at,
            expires_at,
            refresh_at,
        }
    }

    /// The token itself, for an `Authorization` header. Never log it.
    pub fn secret(&self) -> &str {
        &self.value
    }

    /// `token_type` as the server sent it (`Bearer`).
    pub fn token_type(&self) -> &str {
        &self.token_type
    }

    /// The granted scope, if the server said.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// When the request that obtained the token was sent.
    pub fn obtained_at(&self) -> Instant {
        self.obtained_at
    }

    /// When the token expires (`None`: too far ahead to represent).
    pub fn expires_at(&self) -> Option<Instant> {
        self.expires_at
    }

    /// When this client will replace the token.
    pub fn refresh_at(&self) -> Option<Instant> {
        self.refresh_at
    }

    /// Whether the token is due for refresh at `now`.
    pub fn needs_refresh(&self, now: Instant) -> bool {
        self.refresh_at.is_some_and(|at| now >= at)
    }

    /// Whether the token has expired at `now`.
    pub fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("scope", &self.scope)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Slot {
    token: Option<Arc<AccessToken>>,
    last_error: Option<ClientError>,
}

/// One cached token and the lock that makes fetching it single-flight.
#[derive(Default)]
pub(crate) struct TokenCache {
    slot: Mutex<Slot>,
    /// Completed fetch attempts; a waiter that sees it change while it
    /// queued knows a fetch finished for it and uses that outcome.
    attempts: AtomicU64,
}

impl TokenCache {
    /// The cached token if it is not due for refresh, else the outcome of one
    /// `fetch` shared with every caller that was waiting meanwhile.
    pub(crate) async fn get<F, Fut>(
        &self,
        now: impl Fn() -> Instant,
        fetch: F,
    ) -> Result<Arc<AccessToken>, ClientError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken, ClientError>>,
    {
        let seen = self.attempts.load(Ordering::Acquire);
        let mut slot = self.slot.lock().await;
        let at = now();
        if let Some(token) = &slot.token
            && !token.needs_refresh(at)
        {
            return Ok(Arc::clone(token));
        }
        if self.attempts.load(Ordering::Acquire) != seen {
            // A fetch completed while this caller queued: share its outcome.
            if let Some(token) = slot.token.as_ref().filter(|t| !t.is_expired(at)) {
                return Ok(Arc::clone(token));
            }
            if let Some(e) = &slot.last_error {
                return Err(e.clone());
            }
        }
        let result = fetch().await;
        self.attempts.fetch_add(1, Ordering::AcqRel);
        match result {
            Ok(token) => {
                let token = Arc::new(token);
                slot.token = Some(Arc::clone(&token));
                slot.last_error = None;
                Ok(token)
            }
            Err(e) => {
                slot.last_error = Some(e.clone());
                let at = now();
                match slot.token.as_ref().filter(|t| !t.is_expired(at)) {
                    Some(token) => {
                        warn!(error = %e, "refreshing the access token failed; using the cached one until it expires");
                        Ok(Arc::clone(token))
                    }
                    None => {
                        slot.token = None;
                        Err(e)
                    }
                }
            }
        }
    }

    /// Drops the cached token if it is `rejected` (a newer one is kept).
    pub(crate) async fn forget(&self, rejected: &AccessToken) {
        let mut slot = self.slot.lock().await;
        if slot
            .token
            .as_ref()
            .is_some_and(|t| t.value == rejected.value)
        {
            slot.token = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(expires_in: Option<i64>, at: Instant) -> AccessToken {
        AccessToken::new(
            "secret-value".into(),
            "Bearer".into(),
            None,
            expires_in,
            at,
            &RefreshPolicy::default(),
        )
    }

    #[test]
    fn margin_is_the_smaller_of_thirty_seconds_and_a_tenth() {
        let p = RefreshPolicy::default();
        assert_eq!(p.margin(Duration::from_secs(300)), Duration::from_secs(30));
        assert_eq!(p.margin(Duration::from_secs(3600)), Duration::from_secs(30));
        assert_eq!(p.margin(Duration::from_secs(60)), Duration::from_secs(6));
        let odd = RefreshPolicy {
            fraction: f64::NAN,
            ..p
        };
        assert_eq!(odd.margin(Duration::from_secs(60)), Duration::from_secs(6));
    }

    #[test]
    fn refresh_and_expiry_instants() {
        let at = Instant::now();
        let t = token(Some(300), at);
        assert!(!t.needs_refresh(at + Duration::from_secs(269)));
        assert!(t.needs_refresh(at + Duration::from_secs(270)));
        assert!(!t.is_expired(at + Duration::from_secs(299)));
        assert!(t.is_expired(at + Duration::from_secs(300)));
        // Hostile or missing lifetimes never panic.
        assert!(token(Some(-5), at).is_expired(at));
        assert!(token(Some(i64::MAX), at).expires_at().is_some());
        assert!(token(None, at).needs_refresh(at + Duration::from_secs(54)));
        assert!(!format!("{t:?}").contains("secret-value"));
    }
}
