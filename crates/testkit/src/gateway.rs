//! A gateway and an echo upstream in the test's runtime (feature `gateway`).

use std::path::Path;

use axum::Router;
use axum::body::Bytes;
use axum::routing::any;
use std::sync::Arc;

use certbound_core::{Clock, SystemClock};
use certbound_gateway::{GatewayConfig, RunningGateway};
use http::{HeaderMap, Method, Uri};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::TestPki;
use crate::config::{GatewayListener, gateway_toml};

/// Echoes what it received as JSON.
pub async fn echo(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> axum::Json<Value> {
    let h: serde_json::Map<String, Value> = headers
        .keys()
        .map(|k| {
            let values: Vec<&str> = headers
                .get_all(k)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            (k.as_str().to_owned(), Value::from(values))
        })
        .collect();
    axum::Json(json!({
        "method": method.as_str(),
        "uri": uri.to_string(),
        "headers": h,
        "body": String::from_utf8_lossy(&body),
    }))
}

/// Starts an [`echo`] upstream on 127.0.0.1:0; returns its `http://` URL.
pub async fn start_upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind upstream");
    let addr = listener.local_addr().expect("upstream address");
    tokio::spawn(async move { axum::serve(listener, Router::new().fallback(any(echo))).await });
    format!("http://{addr}")
}

/// Starts a gateway from `toml` (see [`gateway_toml`]) and waits until it
/// has reached its AS; `dir` is where the config file would be.
pub async fn start_gateway_from(toml: &str, dir: &Path) -> RunningGateway {
    let config = GatewayConfig::from_toml(toml, &dir.join("gateway.toml")).expect("gateway config");
    let gateway = certbound_gateway::start(config)
        .await
        .expect("start gateway");
    wait_until_ready(&gateway).await;
    gateway
}

/// Waits (at most 30 s) until `gateway` has its AS's metadata and keys.
pub async fn wait_until_ready(gateway: &RunningGateway) {
    let ready = tokio::time::timeout(std::time::Duration::from_secs(30), gateway.ready()).await;
    assert_eq!(ready, Ok(true), "the gateway did not reach its AS");
}

/// The sections of a test gateway after `[authorization_server]`.
#[derive(Debug, Clone, Copy)]
pub struct GatewaySetup<'a> {
    /// The upstream both routes go to.
    pub upstream: &'a str,
    /// Further `[authorization_server]` keys and any sections before `[policy]`.
    pub extra: &'a str,
    /// `[policy]` keys; `None` means the issuer as audience (what the AS
    /// puts in `aud` by default).
    pub policy: Option<&'a str>,
    /// Further `[upstream]` keys.
    pub upstream_extra: &'a str,
}

impl<'a> GatewaySetup<'a> {
    /// Routes to `upstream` with `extra` after `[authorization_server]`, the
    /// issuer as audience and no further `[upstream]` keys.
    pub fn new(upstream: &'a str, extra: &'a str) -> Self {
        Self {
            upstream,
            extra,
            policy: None,
            upstream_extra: "",
        }
    }
}

/// Starts a mTLS gateway trusting the AS at `issuer` (and waits until it
/// has reached it), with `/admin`
/// (scope `admin`) and `/api` (scope `read`) routed to `setup.upstream`,
/// no leeway, a 1 s JWKS refetch interval and the client certificate forwarded.
pub async fn start_gateway(
    pki: &TestPki,
    dir: &Path,
    issuer: &str,
    setup: GatewaySetup<'_>,
) -> RunningGateway {
    start_gateway_clocked(pki, dir, issuer, setup, Arc::new(SystemClock)).await
}

/// As [`start_gateway`], the gateway reading time from `clock`.
pub async fn start_gateway_clocked(
    pki: &TestPki,
    dir: &Path,
    issuer: &str,
    setup: GatewaySetup<'_>,
    clock: Arc<dyn Clock>,
) -> RunningGateway {
    let gateway = launch_gateway_clocked(pki, dir, issuer, setup, clock).await;
    wait_until_ready(&gateway).await;
    gateway
}

/// As [`start_gateway`], returning as soon as the gateway listens: for a
/// test of what it does before it has reached its AS.
pub async fn launch_gateway(
    pki: &TestPki,
    dir: &Path,
    issuer: &str,
    setup: GatewaySetup<'_>,
) -> RunningGateway {
    launch_gateway_clocked(pki, dir, issuer, setup, Arc::new(SystemClock)).await
}

async fn launch_gateway_clocked(
    pki: &TestPki,
    dir: &Path,
    issuer: &str,
    setup: GatewaySetup<'_>,
    clock: Arc<dyn Clock>,
) -> RunningGateway {
    let GatewaySetup {
        upstream,
        extra,
        policy,
        upstream_extra,
    } = setup;
    let policy = policy.map_or_else(|| format!("audience = \"{issuer}\""), str::to_owned);
    let body = format!(
        "{extra}\n[policy]\n{policy}\nleeway_seconds = 0\njwks_refetch_seconds = 1\n\
         [upstream]\nrequest_timeout_ms = 5000\nforward_client_cert = true\n{upstream_extra}\n\
         {routes}",
        routes = routes(upstream),
    );
    let toml = gateway_toml(pki, GatewayListener::Mtls, issuer, &body);
    let config =
        GatewayConfig::from_toml(&toml, &dir.join("gateway.toml")).expect("gateway config");
    certbound_gateway::start_with_clock(config, clock)
        .await
        .expect("start gateway")
}

/// `/admin` (scope `admin`) and `/api` (scope `read`) routed to `upstream`.
pub fn routes(upstream: &str) -> String {
    format!(
        "[[routes]]\npath_prefix = \"/admin\"\nupstream = \"{upstream}\"\nscopes = [\"admin\"]\n\
         [[routes]]\npath_prefix = \"/api\"\nupstream = \"{upstream}\"\nscopes = [\"read\"]\n"
    )
}
