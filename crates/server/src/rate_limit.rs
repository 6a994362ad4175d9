//! Token buckets for the endpoints where callers authenticate (`/token`,
//! `/introspect`, `/revoke`, the revocation list, the admin API and the
//! login form): one per source address and one per client, in memory, per
//! instance.
//!
//! The address bucket is charged for every request, and a failed
//! authentication costs `failure_cost` times more. The client bucket is
//! charged only once the client has proved who it is: an intruder failing
//! under a client's `client_id` drains its own address's bucket, never the
//! client's, so it cannot lock the real client out.
//!
//! Clients registered with `may_introspect` (gateways and resource servers)
//! are not limited at introspection and the revocation list once
//! authenticated: one of them asks for every caller behind it, from one
//! address, under one client id. At `/token` and elsewhere they are limited
//! like any client.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use certbound_core::Clock;

use crate::audit;
use crate::config::RateLimitsConfig;

/// Buckets kept per map before idle ones are dropped.
const MAX_BUCKETS: usize = 65_536;
/// Independent locks per map, so concurrent callers rarely wait on each other.
const SHARDS: usize = 16;

/// A source address as the limits count it: IPv4 whole, IPv6 by its /64
/// (one host commonly holds a whole /64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceAddress(IpAddr);

impl SourceAddress {
    /// The counted address (an IPv6 one with its host half zeroed).
    pub fn ip(self) -> IpAddr {
        self.0
    }

    /// The bucket key of `ip`.
    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !u128::from(u64::MAX);
                Self(IpAddr::V6(prefix.into()))
            }
            v4 => Self(v4),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
    /// When the key last asked, admitted or not, in the shard's ticks: the
    /// least recently asking keys are the ones dropped when it is full.
    seen: u64,
}

/// One lock's share of the buckets.
#[derive(Debug)]
struct Shard<K> {
    buckets: HashMap<K, Bucket>,
    /// Counts every request, so that recency has no ties.
    ticks: u64,
}

/// Token buckets keyed by `K`, all with one rate and burst.
#[derive(Debug)]
struct Buckets<K> {
    shards: Vec<Mutex<Shard<K>>>,
    hasher: RandomState,
    per_second: f64,
    burst: f64,
}

impl<K: Hash + Eq> Buckets<K> {
    fn new(per_second: u32, burst: u32) -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        buckets: HashMap::new(),
                        ticks: 0,
                    })
                })
                .collect(),
            hasher: RandomState::new(),
            per_second: f64::from(per_second),
            burst: f64::from(burst),
        }
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        (bucket.tokens + elapsed * self.per_second).min(self.burst)
    }

    /// Takes `cost` tokens if there are that many (`Ok`); otherwise takes
    /// none and says how long until there will be.
    fn take<Q>(&self, key: &Q, cost: f64, now: Instant) -> Result<(), Duration>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        self.update(key, now, |tokens| {
            if tokens >= cost {
                Ok(tokens - cost)
            } else {
                Err(Duration::from_secs_f64((cost - tokens) / self.per_second))
            }
        })
    }

    /// Takes up to `cost` tokens, down to zero: the extra price of a failure.
    fn charge<Q>(&self, key: &Q, cost: f64, now: Instant)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let _ = self.update(key, now, |tokens| {
            Ok::<f64, Duration>((tokens - cost).max(0.0))
        });
    }

    /// Gives back up to `amount` tokens, never past the burst.
    fn give<Q>(&self, key: &Q, amount: f64, now: Instant)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let _ = self.update(key, now, |tokens| {
            Ok::<f64, Duration>((tokens + amount).min(self.burst))
        });
    }

    fn update<Q>(
        &self,
        key: &Q,
        now: Instant,
        change: impl FnOnce(f64) -> Result<f64, Duration>,
    ) -> Result<(), Duration>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let index = usize::try_from(self.hasher.hash_one(key)).unwrap_or(0) % SHARDS;
        // A poisoned lock only means another request panicked mid-update;
        // the counts are still usable.
        let mut shard = self.shards[index]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        shard.ticks += 1;
        let seen = shard.ticks;
        if let Some(bucket) = shard.buckets.get_mut(key) {
            bucket.seen = seen;
            bucket.tokens = change(self.refilled(*bucket, now))?;
            bucket.at = now;
            return Ok(());
        }
        let tokens = change(self.burst)?;
        if shard.buckets.len() >= MAX_BUCKETS / SHARDS {
            self.make_room(&mut shard.buckets, now);
        }
        shard.buckets.insert(
            key.to_owned(),
            Bucket {
                tokens,
                at: now,
                seen,
            },
        );
        Ok(())
    }

    /// Drops the buckets a fresh one would replace (full ones), or else the
    /// least recently asking half: a caller still sending keeps its spent
    /// bucket however many other keys arrive.
    fn make_room(&self, buckets: &mut HashMap<K, Bucket>, now: Instant) {
        buckets.retain(|_, b| self.refilled(*b, now) < self.burst);
        if buckets.len() < MAX_BUCKETS / SHARDS {
            return;
        }
        let mut seen: Vec<u64> = buckets.values().map(|b| b.seen).collect();
        let middle = seen.len() / 2;
        let cutoff = *seen.select_nth_unstable(middle).1;
        buckets.retain(|_, b| b.seen >= cutoff);
    }
}

/// Over a limit: which, and how long to wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    /// What ran out: `"address"` or `"client"`.
    pub limit: &'static str,
    /// Whole seconds until a request would be admitted (at least 1).
    pub retry_after: u64,
}

/// The buckets of one server instance.
#[derive(Debug)]
pub struct RateLimits {
    enabled: bool,
    failure_cost: f64,
    addresses: Buckets<SourceAddress>,
    clients: Buckets<String>,
    clock: Arc<dyn Clock>,
}

impl RateLimits {
    /// Buckets as `[rate_limits]` sets them, timed by `clock`.
    pub fn new(config: &RateLimitsConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            enabled: config.enabled,
            failure_cost: f64::from(config.failure_cost),
            addresses: Buckets::new(config.address_per_second, config.address_burst),
            clients: Buckets::new(config.client_per_second, config.client_burst),
            clock,
        }
    }

    fn throttled(limit: &'static str, wait: Duration) -> Throttled {
        Throttled {
            limit,
            retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
        }
    }

    /// One request from `address` (`None`: not known, as behind a trusted
    /// proxy, and not counted).
    pub fn admit_address(&self, address: Option<SourceAddress>) -> Result<(), Throttled> {
        match address {
            Some(a) if self.enabled => {
                self.addresses
                    .take(&a, 1.0, self.clock.instant())
                    .map_err(|wait| {
                        let throttled = Self::throttled("address", wait);
                        audit::rate_limited("address", None, Some(a.ip()), throttled.retry_after);
                        throttled
                    })
            }
            _ => Ok(()),
        }
    }

    /// A failed authentication from `address`: it costs `failure_cost`
    /// requests in all (one of them already taken on admission).
    pub fn failed(&self, address: Option<SourceAddress>) {
        if let Some(a) = address.filter(|_| self.enabled) {
            self.addresses
                .charge(&a, self.failure_cost - 1.0, self.clock.instant());
        }
    }

    /// The request from `address` came from a client the limits do not
    /// apply to: the token its admission took is given back.
    pub fn exempt(&self, address: Option<SourceAddress>) {
        if let Some(a) = address.filter(|_| self.enabled) {
            self.addresses.give(&a, 1.0, self.clock.instant());
        }
    }

    /// One request by `client_id`, which has just proved who it is.
    pub fn admit_client(&self, client_id: &str) -> Result<(), Throttled> {
        if !self.enabled {
            return Ok(());
        }
        self.clients
            .take(client_id, 1.0, self.clock.instant())
            .map_err(|wait| {
                let throttled = Self::throttled("client", wait);
                audit::rate_limited("client", Some(client_id), None, throttled.retry_after);
                throttled
            })
    }
}

#[cfg(test)]
mod tests;
