//! Failed-login backoff, in memory per instance: failures are counted per
//! username and per source address within a window; past the threshold a
//! key is refused until its oldest counted failure leaves the window.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use certbound_core::Clock;

/// Most keys tracked at once; past it, keys with no failure in the window
/// are dropped first (bounded memory under a spray of usernames).
const MAX_KEYS: usize = 100_000;

/// What a failure is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BackoffKey {
    /// A username, case-folded (a guesser gains nothing by varying case).
    Username(String),
    /// A source address.
    Address(IpAddr),
}

impl BackoffKey {
    /// The key for `username`.
    pub fn username(username: &str) -> Self {
        Self::Username(username.to_lowercase())
    }
}

/// Failure counters of one instance.
#[derive(Debug)]
pub struct Backoff {
    clock: Arc<dyn Clock>,
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<BackoffKey, VecDeque<Instant>>>,
}

impl Backoff {
    /// Refuses a key with `max_failures` failures within `window`.
    pub fn new(clock: Arc<dyn Clock>, max_failures: u32, window: Duration) -> Self {
        Self {
            clock,
            max_failures: usize::try_from(max_failures).unwrap_or(usize::MAX).max(1),
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` when any of `keys` is over the threshold.
    pub fn check(&self, keys: &[BackoffKey]) -> Result<(), Duration> {
        let now = self.clock.instant();
        let mut map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let mut wait = Duration::ZERO;
        for key in keys {
            if let Some(times) = map.get_mut(key) {
                prune(times, now, self.window);
                if times.len() >= self.max_failures
                    && let Some(oldest) = times.front()
                {
                    let free_at = *oldest + self.window;
                    wait = wait.max(free_at.saturating_duration_since(now));
                }
            }
        }
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }

    /// Counts a failure against every key.
    pub fn record_failure(&self, keys: &[BackoffKey]) {
        let now = self.clock.instant();
        let mut map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_KEYS {
            let window = self.window;
            map.retain(|_, times| {
                prune(times, now, window);
                !times.is_empty()
            });
        }
        for key in keys {
            let times = map.entry(key.clone()).or_default();
            prune(times, now, self.window);
            times.push_back(now);
            // Only the newest `max_failures` decide anything.
            while times.len() > self.max_failures {
                times.pop_front();
            }
        }
    }

    /// Forgets a username's failures after it signs in.
    pub fn record_success(&self, key: &BackoffKey) {
        let mut map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        map.remove(key);
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use certbound_core::ManualClock;

    use super::*;

    #[test]
    fn five_failures_block_until_the_first_leaves_the_window() {
        let clock = Arc::new(ManualClock::new());
        let b = Backoff::new(clock.clone(), 5, Duration::from_secs(900));
        let alice = [BackoffKey::username("Alice")];
        for _ in 0..4 {
            b.record_failure(&alice);
            clock.advance(Duration::from_secs(10));
        }
        assert_eq!(b.check(&alice), Ok(()));
        b.record_failure(&alice);
        assert_eq!(b.check(&alice), Err(Duration::from_secs(860)));
        // Other keys are untouched; case does not matter.
        assert_eq!(b.check(&[BackoffKey::username("bob")]), Ok(()));
        assert!(b.check(&[BackoffKey::username("ALICE")]).is_err());
        clock.advance(Duration::from_secs(860));
        assert_eq!(b.check(&alice), Ok(()));
        b.record_success(&alice[0]);
        assert_eq!(b.check(&alice), Ok(()));
    }
}
