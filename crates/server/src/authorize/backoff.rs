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

    /// `Err(wait)` when any of `keys` is over the threshold; otherwise the
    /// attempt is counted as a failure at once, under the same lock, so
    /// guesses sent in parallel cannot all slip in before the first one
    /// fails. [`Backoff::succeeded`] takes it back.
    pub fn begin(&self, keys: &[BackoffKey]) -> Result<(), Duration> {
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
        if !wait.is_zero() {
            return Err(wait);
        }
        if map.len() >= MAX_KEYS {
            let window = self.window;
            map.retain(|_, times| {
                prune(times, now, window);
                !times.is_empty()
            });
        }
        for key in keys {
            map.entry(key.clone()).or_default().push_back(now);
        }
        Ok(())
    }

    /// The attempt [`Backoff::begin`] counted signed in: the username's
    /// failures are forgotten, and the address's provisional one taken back.
    pub fn succeeded(&self, keys: &[BackoffKey]) {
        let mut map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        for key in keys {
            match key {
                BackoffKey::Username(_) => {
                    map.remove(key);
                }
                BackoffKey::Address(_) => {
                    if let Some(times) = map.get_mut(key) {
                        times.pop_back();
                    }
                }
            }
        }
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
        for _ in 0..5 {
            assert_eq!(b.begin(&alice), Ok(()));
            clock.advance(Duration::from_secs(10));
        }
        // The fifth failure was 40 s after the first: 900 - 50 s to wait.
        assert_eq!(b.begin(&alice), Err(Duration::from_secs(850)));
        // Other keys are untouched; case does not matter.
        assert_eq!(b.begin(&[BackoffKey::username("bob")]), Ok(()));
        assert!(b.begin(&[BackoffKey::username("ALICE")]).is_err());
        clock.advance(Duration::from_secs(850));
        assert_eq!(b.begin(&alice), Ok(()));
        b.succeeded(&alice);
        assert_eq!(b.begin(&alice), Ok(()));
    }

    #[test]
    fn attempts_in_flight_count_before_they_fail() {
        let clock = Arc::new(ManualClock::new());
        let b = Backoff::new(clock, 3, Duration::from_secs(900));
        let keys = [
            BackoffKey::username("carol"),
            BackoffKey::Address(IpAddr::from([192, 0, 2, 7])),
        ];
        // Ten guesses arrive at once, none has failed yet: three get in.
        let admitted = (0..10).filter(|_| b.begin(&keys).is_ok()).count();
        assert_eq!(admitted, 3);
        // One of them was right: the username is forgotten, the address
        // keeps the other two.
        b.succeeded(&keys);
        assert_eq!(b.begin(&[keys[0].clone()]), Ok(()));
        assert_eq!(b.begin(&[keys[1].clone()]), Ok(()));
        assert!(b.begin(&[keys[1].clone()]).is_err());
    }
}
