//! Shared by the gateway tests: a real AS, an echo upstream, a gateway, curl.

#![allow(dead_code, missing_docs)]

use std::path::Path;

use axum::Router;
use axum::body::Bytes;
use axum::routing::any;
use certbound_gateway::{GatewayConfig, RunningGateway};
use certbound_testkit::TestPki;
pub use certbound_testkit_as::{curl, register_tls_client as register, start_as, token};
use http::{HeaderMap, Method, Uri};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// Echoes what it received as JSON.
pub async fn echo(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> axum::Json<Value> {
    let h: serde_json::Map<String, Value> = headers
        .keys()
        .map(|k| {
            (
                k.as_str().to_owned(),
                Value::from(
                    headers
                        .get_all(k)
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .collect::<Vec<_>>(),
                ),
            )
        })
        .collect();
    axum::Json(
        json!({ "method": method.as_str(), "uri": uri.to_string(), "headers": h, "body": String::from_utf8_lossy(&body) }),
    )
}

pub async fn start_upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind upstream");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, Router::new().fallback(any(echo))).await });
    format!("http://{addr}")
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
    // What the AS puts in `aud` by default (tokens.default_audience = the issuer).
    let policy = format!("audience = \"{issuer}\"");
    start_gateway_policy(pki, dir, issuer, upstream, extra, upstream_extra, &policy).await
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
    let toml = format!(
        r#"[listener]
mode = "mtls"
addr = "127.0.0.1:0"
[tls]
cert = "{cert}"
key = "{key}"
client_ca = "{ca}"
[authorization_server]
issuer = "{issuer}"
ca = "{ca}"
{extra}
[policy]
{policy}
leeway_seconds = 0
jwks_refetch_seconds = 1
[upstream]
request_timeout_ms = 5000
forward_client_cert = true
{upstream_extra}
[[routes]]
path_prefix = "/admin"
upstream = "{upstream}"
scopes = ["admin"]
[[routes]]
path_prefix = "/api"
upstream = "{upstream}"
scopes = ["read"]
"#,
        cert = pki.dir().join("server.pem").display(),
        key = pki.dir().join("server.key").display(),
        ca = pki.ca_path().display(),
    );
    let config =
        GatewayConfig::from_toml(&toml, &dir.join("gateway.toml")).expect("gateway config");
    certbound_gateway::start(config)
        .await
        .expect("start gateway")
}
