//! [`KeySetCache`]: one `kid` → key cache for every verifier, whatever the
//! keys come from (a JWKS over HTTP in the guard, the key store in the
//! server). An unknown `kid` triggers a refetch at most once per
//! `min_refetch`; a set older than `max_age` is refreshed; the last good
//! set keeps serving while the source fails.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use certbound_core::Clock;
use tokio::sync::Mutex;
use tracing::warn;

use crate::JoseError;
use crate::keyset::KeyStore;
use crate::verify::{KeyLookup, VerificationKey};

/// Where a [`KeySetCache`] loads its keys from.
pub trait KeySource: Send + Sync + 'static {
    /// What one load produces.
    type Set: KeyStore;
    /// Loads the current set; a failure is [`JoseError::KeysUnavailable`].
    fn load(&self) -> impl Future<Output = Result<Self::Set, JoseError>> + Send;
}

/// How often a [`KeySetCache`] goes back to its source.
#[derive(Debug, Clone, Copy)]
pub struct RefetchPolicy {
    /// Loads (for an unknown `kid`, or after a failure) at most this often.
    pub min_refetch: Duration,
    /// A set this old is refreshed even if every `kid` is known.
    pub max_age: Duration,
}

struct State<T> {
    set: Option<Arc<T>>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
    /// Why the last attempt failed: until the next one, the keys in hand
    /// are not known to be current.
    last_error: Option<String>,
}

struct Inner<S: KeySource> {
    source: S,
    clock: Arc<dyn Clock>,
    policy: RefetchPolicy,
    state: RwLock<State<S::Set>>,
    refreshing: Mutex<()>,
    /// Bumped whenever a load yields different keys, so results verified
    /// under the old set are not reused.
    generation: AtomicU64,
}

/// A cached key set with a refetch rate limit. Cheap to clone.
pub struct KeySetCache<S: KeySource>(Arc<Inner<S>>);

impl<S: KeySource> Clone for KeySetCache<S> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<S: KeySource> KeySetCache<S> {
    /// An empty cache: keys are loaded on first use.
    pub fn new(source: S, policy: RefetchPolicy, clock: Arc<dyn Clock>) -> Self {
        Self(Arc::new(Inner {
            source,
            clock,
            policy,
            state: RwLock::new(State {
                set: None,
                fetched_at: None,
                last_attempt: None,
                last_error: None,
            }),
            refreshing: Mutex::new(()),
            generation: AtomicU64::new(0),
        }))
    }

    /// A cache that starts with `set`, loaded by the caller just now (a
    /// server that must refuse to start without keys loads them itself).
    pub fn with_set(source: S, policy: RefetchPolicy, clock: Arc<dyn Clock>, set: S::Set) -> Self {
        let now = clock.instant();
        let cache = Self::new(source, policy, clock);
        {
            let mut state = cache
                .0
                .state
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            state.set = Some(Arc::new(set));
            state.fetched_at = Some(now);
            state.last_attempt = Some(now);
        }
        cache.0.generation.store(1, Ordering::Release);
        cache
    }

    /// The source.
    pub fn source(&self) -> &S {
        &self.0.source
    }

    /// Changes whenever the key set does.
    pub fn generation(&self) -> u64 {
        self.0.generation.load(Ordering::Acquire)
    }

    /// Loads now, whatever the rate limit says; the error is the source's.
    pub async fn reload(&self) -> Result<Arc<S::Set>, JoseError> {
        let _one = self.0.refreshing.lock().await;
        self.load_locked().await
    }

    /// The current set, refreshed first when older than `max_age`; the
    /// last good set if the source fails.
    pub async fn current(&self) -> Result<Arc<S::Set>, JoseError> {
        let now = self.0.clock.instant();
        if let Some(set) = self.fresh_set(now) {
            return Ok(set);
        }
        let refreshed = self.refresh().await;
        match (self.read().set.clone(), refreshed) {
            (Some(set), _) => Ok(set),
            (None, Err(e)) => Err(e),
            (None, Ok(())) => Err(JoseError::KeysUnavailable("no keys loaded".into())),
        }
    }

    /// The key for `kid`, loading or refetching as the rules allow. A known
    /// key is served at once even when the set is stale (the refresh runs
    /// in the background), so an unreachable source never stalls requests
    /// that carry a key we already have. `Ok(None)` only when a load that
    /// succeeded says the `kid` is not there; when the keys could not be
    /// refreshed the `kid` may be a new key, and the caller must retry
    /// rather than drop its token.
    pub async fn lookup(&self, kid: &str) -> Result<Option<Arc<VerificationKey>>, JoseError> {
        let (known, stale) = {
            let state = self.read();
            let known = state.set.as_ref().and_then(|s| s.key(kid));
            let stale = state.fetched_at.is_none_or(|t| {
                self.0.clock.instant().saturating_duration_since(t) >= self.0.policy.max_age
            });
            (known, stale)
        };
        if let Some(key) = known {
            if stale {
                let this = self.clone();
                tokio::spawn(async move {
                    let _ = this.refresh().await;
                });
            }
            return Ok(Some(key));
        }
        let refreshed = self.refresh().await;
        let key = self.read().set.as_ref().and_then(|s| s.key(kid));
        match (refreshed, key) {
            (_, Some(key)) => Ok(Some(key)),
            (Ok(()), None) => Ok(None),
            (Err(e), None) => Err(e),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State<S::Set>> {
        self.0.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn fresh_set(&self, now: Instant) -> Option<Arc<S::Set>> {
        let state = self.read();
        let fresh = state
            .fetched_at
            .is_some_and(|t| now.saturating_duration_since(t) < self.0.policy.max_age);
        state.set.clone().filter(|_| fresh)
    }

    /// Loads unless another attempt happened within `min_refetch`. `Ok`
    /// when the keys in hand are the answer of the latest attempt; `Err`
    /// when that attempt failed (the last good keys still serve).
    async fn refresh(&self) -> Result<(), JoseError> {
        let _one = self.0.refreshing.lock().await;
        {
            let state = self.read();
            let recent = state.last_attempt.is_some_and(|t| {
                self.0.clock.instant().saturating_duration_since(t) < self.0.policy.min_refetch
            });
            if recent {
                return match &state.last_error {
                    Some(e) => Err(JoseError::KeysUnavailable(format!(
                        "{e} (the next attempt is allowed {:?} after it)",
                        self.0.policy.min_refetch
                    ))),
                    None => Ok(()),
                };
            }
        }
        self.load_locked().await.map(|_| ())
    }

    /// One load; the caller holds `refreshing`.
    async fn load_locked(&self) -> Result<Arc<S::Set>, JoseError> {
        let loaded = self.0.source.load().await;
        let now = self.0.clock.instant();
        let mut state = self.0.state.write().unwrap_or_else(PoisonError::into_inner);
        state.last_attempt = Some(now);
        match loaded {
            Ok(set) => {
                if !state.set.as_ref().is_some_and(|old| old.same_keys(&set)) {
                    self.0.generation.fetch_add(1, Ordering::AcqRel);
                }
                let set = Arc::new(set);
                state.set = Some(Arc::clone(&set));
                state.fetched_at = Some(now);
                state.last_error = None;
                Ok(set)
            }
            Err(e) => {
                if state.set.is_some() {
                    warn!(error = %e, "key refresh failed; keeping the last good keys");
                }
                state.last_error = Some(e.to_string());
                Err(e)
            }
        }
    }
}

impl<S: KeySource> KeyLookup for KeySetCache<S> {
    fn key(
        &self,
        kid: &str,
    ) -> impl Future<Output = Result<Option<Arc<VerificationKey>>, JoseError>> + Send {
        self.lookup(kid)
    }
}
