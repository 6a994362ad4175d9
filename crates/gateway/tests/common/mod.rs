//! The gateway tests' short names for the testkit's AS and gateway helpers.

#![allow(dead_code, missing_docs)]

use std::path::Path;

use certbound_gateway::RunningGateway;
#[allow(unused_imports)]
pub use certbound_testkit::gateway::GatewaySetup;
use certbound_testkit::gateway::start_gateway as start;
#[allow(unused_imports)]
pub use certbound_testkit::gateway::start_upstream;
#[allow(unused_imports)]
pub use certbound_testkit::server::{curl, register_tls_client as register, start_as, token};
use certbound_testkit::{TestIdentity, TestPki};

/// `[authorization_server]` keys that make the gateway introspect as
/// client `gateway` with `gwid`'s certificate, then `more`.
pub fn introspection_as(gwid: &TestIdentity, more: &str) -> String {
    format!(
        "introspection_client_id = \"gateway\"\ncert = \"{}\"\nkey = \"{}\"\n{more}",
        gwid.cert_path.display(),
        gwid.key_path.display()
    )
}

pub async fn start_gateway(
    pki: &TestPki,
    dir: &Path,
    issuer: &str,
    upstream: &str,
    extra: &str,
) -> RunningGateway {
    start(pki, dir, issuer, GatewaySetup::new(upstream, extra)).await
}

/// [`start_gateway`] reading time from `clock`, so a test moves it past
/// `jwks_refetch_seconds` or a cache lifetime instead of sleeping.
pub async fn start_gateway_clocked(
    pki: &TestPki,
    dir: &Path,
    issuer: &str,
    upstream: &str,
    extra: &str,
    clock: std::sync::Arc<certbound_core::ManualClock>,
) -> RunningGateway {
    let setup = GatewaySetup::new(upstream, extra);
    certbound_testkit::gateway::start_gateway_clocked(pki, dir, issuer, setup, clock).await
}

/// Everything logged by this test process (installed once as the global
/// subscriber; call it before starting what a test reads the log of).
pub fn log() -> String {
    certbound_testkit::log::captured()
}

/// The lines of [`log`] that contain every one of `parts`.
pub fn log_lines(parts: &[&str]) -> Vec<String> {
    log()
        .lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .map(str::to_owned)
        .collect()
}

/// Waits (at most `secs`) until [`log_lines`] finds `at_least` lines.
pub async fn until_logged(parts: &[&str], at_least: usize, secs: u64) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let lines = log_lines(parts);
        if lines.len() >= at_least || tokio::time::Instant::now() >= deadline {
            return lines;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
