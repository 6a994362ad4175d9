//! [`Clock`]: where time-dependent code reads the time, so tests can move it
//! instead of sleeping.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of wall-clock seconds (for `exp`, `nbf`, `iat`) and monotonic
/// instants (for cache ages and rate limits).
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Seconds since the Unix epoch.
    fn unix_seconds(&self) -> i64;
    /// A monotonic instant.
    fn instant(&self) -> Instant;
}

/// The operating system's clocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn unix_seconds(&self) -> i64 {
        // A clock before 1970 reads as 0: every `exp` then lies ahead, and
        // such a host has bigger problems than token expiry.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that stands still until a test advances it. Both readings start
/// at the system's current time and move together.
#[derive(Debug)]
pub struct ManualClock {
    start_unix: i64,
    start_instant: Instant,
    offset: Mutex<Duration>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A clock reading the current time, frozen.
    pub fn new() -> Self {
        Self {
            start_unix: SystemClock.unix_seconds(),
            start_instant: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        }
    }

    /// Moves both readings forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut offset = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        *offset = offset.saturating_add(by);
    }

    fn offset(&self) -> Duration {
        *self.offset.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clock for ManualClock {
    fn unix_seconds(&self) -> i64 {
        let secs = i64::try_from(self.offset().as_secs()).unwrap_or(i64::MAX);
        self.start_unix.saturating_add(secs)
    }

    fn instant(&self) -> Instant {
        let offset = self.offset();
        self.start_instant
            .checked_add(offset)
            .unwrap_or(self.start_instant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new();
        let (secs, at) = (clock.unix_seconds(), clock.instant());
        assert_eq!(clock.unix_seconds(), secs);
        assert_eq!(clock.instant(), at);
        clock.advance(Duration::from_millis(2500));
        assert_eq!(clock.unix_seconds(), secs + 2);
        assert_eq!(clock.instant() - at, Duration::from_millis(2500));
    }

    #[test]
    fn the_system_clock_is_after_2020() {
        assert!(SystemClock.unix_seconds() > 1_577_836_800);
    }
}
