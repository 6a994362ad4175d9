use std::net::{Ipv4Addr, Ipv6Addr};

use certbound_core::ManualClock;

use super::*;

fn limits(clock: &Arc<ManualClock>) -> RateLimits {
    let config = RateLimitsConfig {
        enabled: true,
        address_per_second: 2,
        address_burst: 4,
        client_per_second: 1,
        client_burst: 3,
        failure_cost: 3,
    };
    RateLimits::new(&config, Arc::clone(clock) as Arc<dyn Clock>)
}

fn addr(last: u8) -> Option<SourceAddress> {
    Some(SourceAddress::of(IpAddr::V4(Ipv4Addr::new(
        127, 0, 0, last,
    ))))
}

#[test]
fn an_address_gets_its_burst_then_its_rate() {
    let clock = Arc::new(ManualClock::new());
    let limits = limits(&clock);
    for i in 0..4 {
        assert_eq!(limits.admit_address(addr(1)), Ok(()), "request {i}");
    }
    assert_eq!(
        limits.admit_address(addr(1)),
        Err(Throttled {
            limit: "address",
            retry_after: 1
        })
    );
    // Another address has its own bucket.
    assert_eq!(limits.admit_address(addr(2)), Ok(()));
    // 2 per second: half a second later, one more.
    clock.advance(Duration::from_millis(500));
    assert_eq!(limits.admit_address(addr(1)), Ok(()));
    assert!(limits.admit_address(addr(1)).is_err());
    // Unknown addresses (behind a trusted proxy) are not counted.
    for _ in 0..10 {
        assert_eq!(limits.admit_address(None), Ok(()));
    }
}

#[test]
fn failures_cost_more_and_retry_after_says_how_long() {
    let clock = Arc::new(ManualClock::new());
    let limits = limits(&clock);
    assert_eq!(limits.admit_address(addr(1)), Ok(()));
    limits.failed(addr(1)); // 3 in all: 1 left of 4
    assert_eq!(limits.admit_address(addr(1)), Ok(()));
    limits.failed(addr(1)); // down to zero, not below
    match limits.admit_address(addr(1)) {
        Err(t) => assert_eq!((t.limit, t.retry_after), ("address", 1)),
        Ok(()) => panic!("a failing address is throttled"),
    }
    clock.advance(Duration::from_secs(1));
    assert_eq!(limits.admit_address(addr(1)), Ok(()), "refilled at 2/s");
}

#[test]
fn a_client_bucket_counts_only_its_own_authenticated_requests() {
    let clock = Arc::new(ManualClock::new());
    let limits = limits(&clock);
    // An intruder failing from another address touches only that address.
    for _ in 0..20 {
        let _ = limits.admit_address(addr(2));
        limits.failed(addr(2));
    }
    assert!(limits.admit_address(addr(2)).is_err());
    for i in 0..3 {
        assert_eq!(limits.admit_address(addr(1)), Ok(()));
        assert_eq!(limits.admit_client("alice"), Ok(()), "request {i}");
    }
    assert_eq!(
        limits.admit_client("alice"),
        Err(Throttled {
            limit: "client",
            retry_after: 1
        })
    );
    assert_eq!(limits.admit_client("bob"), Ok(()));
    clock.advance(Duration::from_secs(1));
    assert_eq!(limits.admit_client("alice"), Ok(()));
}

#[test]
fn ipv6_counts_by_slash_64_and_mapped_ipv4_as_ipv4() {
    let a: Ipv6Addr = "2001:db8:1:2:aaaa::1".parse().unwrap();
    let b: Ipv6Addr = "2001:db8:1:2:bbbb::9".parse().unwrap();
    let c: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
    assert_eq!(SourceAddress::of(a.into()), SourceAddress::of(b.into()));
    assert_ne!(SourceAddress::of(a.into()), SourceAddress::of(c.into()));
    let mapped: Ipv6Addr = "::ffff:127.0.0.1".parse().unwrap();
    assert_eq!(SourceAddress::of(mapped.into()), addr(1).unwrap());
}

#[test]
fn disabled_limits_admit_everything() {
    let clock = Arc::new(ManualClock::new());
    let config = RateLimitsConfig {
        enabled: false,
        ..RateLimitsConfig::default()
    };
    let limits = RateLimits::new(&config, clock as Arc<dyn Clock>);
    for _ in 0..10_000 {
        assert_eq!(limits.admit_address(addr(1)), Ok(()));
        limits.failed(addr(1));
        assert_eq!(limits.admit_client("alice"), Ok(()));
    }
}

#[test]
fn the_bucket_maps_stay_bounded() {
    let clock = Arc::new(ManualClock::new());
    let limits = limits(&clock);
    for i in 0..(MAX_BUCKETS as u32 * 2) {
        let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
        let _ = limits.admit_address(Some(SourceAddress::of(ip)));
    }
    let held: usize = limits
        .addresses
        .shards
        .iter()
        .map(|s| s.lock().map(|s| s.buckets.len()).unwrap_or(0))
        .sum();
    assert!(held <= MAX_BUCKETS, "{held}");
}

#[test]
fn a_flood_of_new_addresses_does_not_refill_a_caller_that_keeps_sending() {
    let clock = Arc::new(ManualClock::new());
    let limits = limits(&clock);
    while limits.admit_address(addr(1)).is_ok() {}
    // Four times the map's room of other addresses, each spending a little,
    // while 127.0.0.1 keeps knocking: it stays refused throughout.
    for i in 0..(MAX_BUCKETS as u32 * 4) {
        let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
        let _ = limits.admit_address(Some(SourceAddress::of(ip)));
        if i % 256 == 0 {
            assert!(limits.admit_address(addr(1)).is_err(), "refilled after {i}");
        }
    }
}
