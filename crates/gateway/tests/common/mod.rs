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
