//! Connection counts per listener and per client address: a connection over
//! either limit is closed as soon as it is accepted.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tracing::warn;

/// Open connections of one listener.
pub(crate) struct Admission {
    max: usize,
    max_per_ip: usize,
    open: AtomicUsize,
    /// Entries are removed when their count reaches zero.
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    /// Woken when `open` drops to zero (shutdown drain).
    drained: Notify,
}

/// Which limit refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    Listener,
    Address,
}

/// Counts one open connection until dropped.
pub(crate) struct Permit {
    admission: Arc<Admission>,
    /// `None` when the peer is exempt from the per-address limit.
    key: Option<IpAddr>,
}

impl Admission {
    pub(crate) fn new(max: usize, max_per_ip: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            max_per_ip,
            open: AtomicUsize::new(0),
            per_ip: Mutex::new(HashMap::new()),
            drained: Notify::new(),
        })
    }

    /// Admits a connection from `ip` unless a limit is reached; trusted
    /// proxies (`exempt`) count only against the listener limit.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr, exempt: bool) -> Result<Permit, Refused> {
        // Only the accept loop adds, so load-then-add cannot overshoot.
        if self.open.load(Ordering::Acquire) >= self.max {
            return Err(Refused::Listener);
        }
        let key = if exempt {
            None
        } else {
            let key = address_key(ip);
            let mut map = self.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
            let count = map.entry(key).or_insert(0);
            if *count >= self.max_per_ip {
                return Err(Refused::Address);
            }
            *count += 1;
            Some(key)
        };
        self.open.fetch_add(1, Ordering::AcqRel);
        Ok(Permit {
            admission: Arc::clone(self),
            key,
        })
    }

    /// Waits until every admitted connection has ended.
    pub(crate) async fn drained(&self) {
        loop {
            let notified = self.drained.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.open.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let a = &self.admission;
        if let Some(key) = self.key {
            let mut map = a.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(count) = map.get_mut(&key) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    map.remove(&key);
                }
            }
        }
        if a.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            a.drained.notify_waiters();
        }
    }
}

/// IPv4 (and IPv4-mapped IPv6) per address; IPv6 per /64, the smallest
/// block a host is usually given, so one host cannot rotate addresses.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Logs refused connections at most once per interval, with a count, so a
/// flood of them does not flood the log.
pub(crate) struct RefusalLog {
    last: Option<Instant>,
    listener: u64,
    address: u64,
}

const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

impl RefusalLog {
    pub(crate) fn new() -> Self {
        Self {
            last: None,
            listener: 0,
            address: 0,
        }
    }

    pub(crate) fn refused(&mut self, why: Refused, max: usize, max_per_ip: usize) {
        match why {
            Refused::Listener => self.listener += 1,
            Refused::Address => self.address += 1,
        }
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < REFUSAL_LOG_INTERVAL)
        {
            return;
        }
        self.last = Some(now);
        warn!(
            over_max_connections = self.listener,
            over_max_connections_per_ip = self.address,
            max_connections = max,
            max_connections_per_ip = max_per_ip,
            "connections refused: limit reached (logged at most every 10 s)"
        );
        self.listener = 0;
        self.address = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = or_fail("2001:db8:1:2:aaaa::1".parse());
        let b: IpAddr = or_fail("2001:db8:1:2:bbbb::2".parse());
        let c: IpAddr = or_fail("2001:db8:1:3::1".parse());
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = or_fail("::ffff:10.0.0.1".parse());
        let v4: IpAddr = or_fail("10.0.0.1".parse());
        assert_eq!(address_key(mapped), v4);
    }

    #[test]
    fn per_address_counts_are_removed_at_zero() {
        let adm = Admission::new(3, 2);
        let ip: IpAddr = or_fail("10.0.0.1".parse());
        let one = or_fail(adm.admit(ip, false));
        let two = or_fail(adm.admit(ip, false));
        assert_eq!(adm.admit(ip, false).err(), Some(Refused::Address));
        // A trusted proxy is exempt from the per-address limit, not the listener's.
        let proxy = or_fail(adm.admit(ip, true));
        assert_eq!(adm.admit(ip, true).err(), Some(Refused::Listener));
        drop((one, two, proxy));
        assert!(adm.per_ip.lock().map(|m| m.is_empty()).unwrap_or(false));
        assert_eq!(adm.open.load(Ordering::Acquire), 0);
    }

    fn or_fail<T, E: std::fmt::Debug>(r: Result<T, E>) -> T {
        match r {
            Ok(v) => v,
            Err(e) => panic!("{e:?}"),
        }
    }
}
