//! Shared by the gateway tests: a real AS, an echo upstream, a gateway, curl.

#![allow(dead_code, missing_docs)]

use std::path::Path;

use axum::Router;
use axum::body::Bytes;
use axum::routing::any;
use certbound_core::AuthMethod;
use certbound_gateway::{GatewayConfig, RunningGateway};
use certbound_server::clients::{ClientMetadata, TokenFormat};
use certbound_server::{Config, RunningServer};
use certbound_testkit::{TestIdentity, TestPki, or_panic, require_tool};
use http::{HeaderMap, Method, Uri};
use serde_json::{Value, json};
use tokio::net::TcpListener;

pub async fn start_as(pki: &TestPki, dir: &Path, extra: &str) -> RunningServer {
    let toml = format!(
        "[storage]\nurl = \"{}\"\n[tls]\ncert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"\n[listeners.mtls]\naddr = \"127.0.0.1:0\"\n[keys]\ncache_seconds = 0\n{extra}",
        certbound_testkit::sqlite_url(dir),
        pki.dir().join("server.pem").display(),
        pki.dir().join("server.key").display(),
        pki.ca_path().display(),
    );
    or_panic(
        certbound_server::start(or_panic(
            Config::from_toml(&toml, &dir.join("as.toml"), Vec::new()),
            "config",
        ))
        .await,
        "start AS",
    )
}

pub async fn register(server: &RunningServer, id: &str, scope: &str, format: TokenFormat) {
    let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
    m.tls_client_auth_subject_dn = Some(format!("CN={id}"));
    m.scope = scope.into();
    m.access_token_format = format;
    or_panic(
        certbound_server::register_client(server.server.store.as_ref(), id, m, None).await,
        "register",
    );
}

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
    let listener = or_panic(TcpListener::bind("127.0.0.1:0").await, "bind upstream");
    let addr = or_panic(listener.local_addr(), "addr");
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
leeway_seconds = 0
jwks_refetch_seconds = 1
[upstream]
request_timeout_ms = 5000
forward_client_cert = true
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
    let config = or_panic(
        GatewayConfig::from_toml(&toml, &dir.join("gateway.toml")),
        "gateway config",
    );
    or_panic(certbound_gateway::start(config).await, "start gateway")
}

pub async fn curl(pki: &TestPki, who: Option<&TestIdentity>, args: &[&str]) -> (u16, Value) {
    let mut cmd = tokio::process::Command::new(require_tool("curl"));
    cmd.args(["-sS", "--noproxy", "*", "-w", "\n%{http_code}", "--cacert"])
        .arg(pki.ca_path());
    if let Some(id) = who {
        cmd.arg("--cert")
            .arg(&id.cert_path)
            .arg("--key")
            .arg(&id.key_path);
    }
    let out = or_panic(cmd.args(args).output().await, "curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (
        status.parse().unwrap_or(0),
        serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())),
    )
}

pub async fn token(pki: &TestPki, server: &RunningServer, who: &TestIdentity, id: &str) -> String {
    let url = format!("{}/token", server.mtls_url.clone().unwrap_or_default());
    let (status, body) = curl(
        pki,
        Some(who),
        &[
            "-d",
            &format!("grant_type=client_credentials&client_id={id}"),
            &url,
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap_or_default().to_owned()
}
