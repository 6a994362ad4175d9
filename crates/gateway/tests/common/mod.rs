//! The gateway tests' short names for the testkit's AS and gateway helpers.

#![allow(dead_code, missing_docs)]

use std::path::Path;

use certbound_gateway::RunningGateway;
#[allow(unused_imports)]
pub use certbound_testkit::gateway::start_upstream;
use certbound_testkit::gateway::{GatewaySetup, start_gateway as start};
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
    start_gateway_with(pki, dir, issuer, upstream, extra, "").await
}

/// [`start_gateway`] with `upstream_extra` lines in `[upstream]`.
pub async fn start_gateway_with(
    pki: &TestPki,
    dir: &Path,
    issuer: &str,
    upstream: &str,
    extra: &str,
    upstream_extra: &str,
) -> RunningGateway {
    gateway(pki, dir, issuer, upstream, extra, upstream_extra, None).await
}

/// [`start_gateway_with`] with `policy` lines in `[policy]` instead of the
/// issuer as audience.
pub async fn start_gateway_policy(
    pki: &TestPki,
    dir: &Path,
    issuer: &str,
    upstream: &str,
    extra: &str,
    upstream_extra: &str,
    policy: &str,
) -> RunningGateway {
    gateway(
        pki,
        dir,
        issuer,
        upstream,
        extra,
        upstream_extra,
        Some(policy),
    )
    .await
}

async fn gateway(
    pki: &TestPki,
    dir: &Path,
    issuer: &str,
    upstream: &str,
    extra: &str,
    upstream_extra: &str,
    policy: Option<&str>,
) -> RunningGateway {
    let setup = GatewaySetup {
        upstream,
        extra,
        policy,
        upstream_extra,
    };
    start(pki, dir, issuer, setup).await
}
