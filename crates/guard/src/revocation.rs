//! Revoked JWTs at a verifier that checks signatures locally: the set of
//! revoked `jti`s, kept current by polling the authorization server's
//! revocation list (`certbound_revocation_list_endpoint`) incrementally with
//! the guard's own client identity.
//!
//! The request path reads an atomic count and, only when something is
//! revoked, takes a read lock for one hash lookup by `&str`: no allocation.
//! Entries leave the set once their token has expired.
//!
//! Failure mode: if a poll fails the last set is kept and the failure
//! logged (fail-open for freshness); once no poll has succeeded for
//! `max_staleness`, every token is refused with 503 until one does
//! (fail-closed), unless `max_staleness` is `None`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Mutex;

use certbound_core::Clock;

use crate::GuardError;
use crate::error::InvalidToken;
use crate::fetch::Fetcher;

/// Pages read in one poll at most; the rest waits for the next poll.
const MAX_PAGES_PER_POLL: usize = 100;

/// How the guard follows the authorization server's revocation list.
#[derive(Debug, Clone)]
pub struct RevocationOptions {
    /// The guard's own `client_id` at the authorization server (registered
    /// with `may_introspect`); it authenticates with the TLS identity.
    pub client_id: String,
    /// Time between polls.
    pub poll_interval: Duration,
    /// Refuse every token (503) once no poll has succeeded for this long;
    /// `None` keeps serving with the last list however old it is.
    pub max_staleness: Option<Duration>,
}

/// One page of the revocation list.
#[derive(Debug, Deserialize)]
struct Page {
    revoked: Vec<Entry>,
    cursor: String,
    complete: bool,
}

#[derive(Debug, Deserialize)]
struct Entry {
    jti: String,
    exp: i64,
}

/// The revoked `jti`s this guard knows of, and how fresh they are.
pub(crate) struct Revocations {
    fetcher: Fetcher,
    endpoint: String,
    options: RevocationOptions,
    /// Entries in `set`, so the request path skips the lock when it is empty.
    count: AtomicUsize,
    /// `jti` → `exp`.
    set: RwLock<HashMap<Box<str>, i64, foldhash::fast::RandomState>>,
    /// Unix seconds of the last successful poll.
    fresh_at: AtomicI64,
    /// The last cursor; also serialises polls.
    cursor: Mutex<Option<String>>,
    clock: Arc<dyn Clock>,
}

impl Revocations {
    pub(crate) fn new(
        fetcher: Fetcher,
        endpoint: String,
        options: RevocationOptions,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            fetcher,
            endpoint,
            options,
            count: AtomicUsize::new(0),
            set: RwLock::new(HashMap::default()),
            fresh_at: AtomicI64::new(clock.unix_seconds()),
            cursor: Mutex::new(None),
            clock,
        }
    }

    /// Whether no poll has succeeded for longer than `max_staleness`.
    pub(crate) fn stale(&self) -> bool {
        self.options.max_staleness.is_some_and(|max| {
            let age = self.clock.unix_seconds() - self.fresh_at.load(Ordering::Acquire);
            age > i64::try_from(max.as_secs()).unwrap_or(i64::MAX)
        })
    }

    /// Refuses a revoked `jti`, or any token when the list is too stale.
    pub(crate) fn check(&self, jti: &str) -> Result<(), GuardError> {
        if self.stale() {
            return Err(GuardError::Unavailable(
                "the revocation list could not be refreshed; retry shortly".into(),
            ));
        }
        if self.count.load(Ordering::Acquire) == 0 {
            return Ok(());
        }
        let revoked = self
            .set
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(jti);
        if revoked {
            return Err(GuardError::InvalidToken(InvalidToken::Revoked));
        }
        Ok(())
    }

    /// Fetches everything revoked since the last poll and forgets entries
    /// whose token has expired (`leeway` seconds after `exp`).
    pub(crate) async fn poll(&self, leeway: i64) -> Result<usize, GuardError> {
        let mut cursor = self.cursor.lock().await;
        let mut added = 0;
        let mut complete = false;
        for _ in 0..MAX_PAGES_PER_POLL {
            let mut form = vec![("client_id", self.options.client_id.as_str())];
            if let Some(c) = cursor.as_deref() {
                form.push(("since", c));
            }
            let page: Page = self.fetcher.post_form(&self.endpoint, &form).await?;
            added += page.revoked.len();
            self.apply(page.revoked, leeway);
            *cursor = Some(page.cursor);
            if page.complete {
                complete = true;
                break;
            }
        }
        // A list not read to its end is not current: the staleness bound
        // keeps running until a poll reaches the end.
        if complete {
            self.fresh_at
                .store(self.clock.unix_seconds(), Ordering::Release);
        }
        Ok(added)
    }

    fn apply(&self, entries: Vec<Entry>, leeway: i64) {
        let now = self.clock.unix_seconds();
        let mut set = self.set.write().unwrap_or_else(PoisonError::into_inner);
        for e in entries {
            set.insert(e.jti.into_boxed_str(), e.exp);
        }
        set.retain(|_, exp| *exp >= now - leeway);
        self.count.store(set.len(), Ordering::Release);
    }
}

/// Polls until the guard is dropped; failures keep the last set and are logged.
pub(crate) async fn keep_polling(revocations: Weak<Revocations>, interval: Duration, leeway: i64) {
    let mut failing = false;
    loop {
        tokio::time::sleep(interval).await;
        let Some(r) = revocations.upgrade() else {
            return;
        };
        match r.poll(leeway).await {
            Ok(added) => {
                if failing {
                    tracing::info!(added, "revocation list reachable again");
                }
                failing = false;
            }
            Err(e) => {
                let age = r.clock.unix_seconds() - r.fresh_at.load(Ordering::Acquire);
                tracing::warn!(error = %e, seconds_since_last_success = age, "revocation list poll failed; keeping the last list");
                failing = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revocations(max_staleness: Option<Duration>) -> Revocations {
        let fetcher = match certbound_tls::TlsSettings::from_pem_files(None, None)
            .map_err(|e| GuardError::Setup(e.to_string()))
            .and_then(|tls| Fetcher::new(&tls, Duration::from_secs(1)))
        {
            Ok(f) => f,
            Err(e) => panic!("fetcher: {e}"),
        };
        let options = RevocationOptions {
            client_id: "gw".into(),
            poll_interval: Duration::from_secs(1),
            max_staleness,
        };
        Revocations::new(
            fetcher,
            "https://as.invalid/revocations".into(),
            options,
            Arc::new(certbound_core::SystemClock),
        )
    }

    fn entry(jti: &str, exp: i64) -> Entry {
        Entry {
            jti: jti.into(),
            exp,
        }
    }

    #[test]
    fn revoked_until_expiry_and_nothing_else() {
        let r = revocations(None);
        assert_eq!(r.check("a"), Ok(()), "empty set");
        let now = r.clock.unix_seconds();
        r.apply(
            vec![
                entry("a", now + 60),
                entry("gone", now - 10),
                entry("edge", now - 5),
            ],
            5,
        );
        let revoked = Err(GuardError::InvalidToken(InvalidToken::Revoked));
        assert_eq!(r.check("a"), revoked);
        assert_eq!(r.check("edge"), revoked, "still within leeway of exp");
        assert_eq!(r.check("gone"), Ok(()), "expired beyond leeway: dropped");
        assert_eq!(r.check("b"), Ok(()));
        assert_eq!(r.count.load(Ordering::Acquire), 2);
        // A later page adds; entries whose token expired meanwhile go.
        r.apply(vec![entry("b", now + 60)], 5);
        assert_eq!(r.check("b"), revoked);
        assert_eq!(r.count.load(Ordering::Acquire), 3);
    }

    #[test]
    fn a_stale_list_refuses_every_token_only_when_bounded() {
        let bounded = revocations(Some(Duration::from_secs(10)));
        let now = bounded.clock.unix_seconds();
        bounded.fresh_at.store(now - 5, Ordering::Release);
        assert_eq!(bounded.check("a"), Ok(()));
        assert!(!bounded.stale());
        bounded.fresh_at.store(now - 11, Ordering::Release);
        assert!(bounded.stale());
        assert_eq!(
            bounded.check("a"),
            Err(GuardError::Unavailable(
                "the revocation list could not be refreshed; retry shortly".into()
            ))
        );
        let unbounded = revocations(None);
        unbounded.fresh_at.store(0, Ordering::Release);
        assert_eq!(unbounded.check("a"), Ok(()), "fail-open when configured so");
        assert!(!unbounded.stale());
    }
}
