//! Dev-only helpers for tests that need a real authorization server: start
//! one on SQLite and 127.0.0.1:0, register `tls_client_auth` clients, get
//! tokens and make calls with curl. Kept apart from `certbound-testkit`
//! because the server's own tests use that crate.

use std::path::Path;

use certbound_core::AuthMethod;
use certbound_server::clients::{ClientMetadata, TokenFormat};
use certbound_server::{Config, RunningServer};
use certbound_testkit::{TestIdentity, TestPki, require_tool};
use serde_json::Value;

/// Starts an AS with the PKI's server certificate and client CA, an mTLS
/// listener, and no key cache; `extra` TOML is appended to the config.
pub async fn start_as(pki: &TestPki, dir: &Path, extra: &str) -> RunningServer {
    let toml = format!(
        "[storage]\nurl = \"{}\"\n[tls]\ncert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"\n[listeners.mtls]\naddr = \"127.0.0.1:0\"\n[keys]\ncache_seconds = 0\n{extra}",
        certbound_testkit::sqlite_url(dir),
        pki.dir().join("server.pem").display(),
        pki.dir().join("server.key").display(),
        pki.ca_path().display(),
    );
    let config = Config::from_toml(&toml, &dir.join("as.toml"), Vec::new()).expect("AS config");
    certbound_server::start(config).await.expect("start AS")
}

/// Registers `id` as a `tls_client_auth` client matched by `CN=id`.
pub async fn register_tls_client(
    server: &RunningServer,
    id: &str,
    scope: &str,
    format: TokenFormat,
) {
    let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
    m.tls_client_auth_subject_dn = Some(format!("CN={id}"));
    m.scope = scope.into();
    m.access_token_format = format;
    certbound_server::register_client(server.server.store.as_ref(), id, m, None)
        .await
        .expect("register client");
}

/// Registers `id` as a `tls_client_auth` client (`CN=id`) with no scopes
/// and `may_introspect`, as a gateway or resource server is registered.
pub async fn register_introspecting_client(server: &RunningServer, id: &str) {
    let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
    m.tls_client_auth_subject_dn = Some(format!("CN={id}"));
    m.may_introspect = true;
    certbound_server::register_client(server.server.store.as_ref(), id, m, None)
        .await
        .expect("register introspecting client");
}

/// curl with the PKI's CA and an optional client identity; returns the
/// status, the `WWW-Authenticate` value (lower-cased) and the JSON body
/// (a string when the body is not JSON).
pub async fn curl_with_challenge(
    pki: &TestPki,
    who: Option<&TestIdentity>,
    args: &[&str],
) -> (u16, String, Value) {
    let mut cmd = tokio::process::Command::new(require_tool("curl"));
    cmd.args([
        "-sS",
        "--noproxy",
        "*",
        "-D",
        "/dev/stderr",
        "-w",
        "\n%{http_code}",
        "--cacert",
    ])
    .arg(pki.ca_path());
    if let Some(id) = who {
        cmd.arg("--cert")
            .arg(&id.cert_path)
            .arg("--key")
            .arg(&id.key_path);
    }
    let out = cmd.args(args).output().await.expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let headers = String::from_utf8_lossy(&out.stderr).to_ascii_lowercase();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
    let challenge = headers
        .lines()
        .find_map(|l| l.strip_prefix("www-authenticate: "))
        .unwrap_or_default()
        .trim()
        .to_owned();
    let json = serde_json::from_str(body).unwrap_or(Value::String(body.to_owned()));
    (status.parse().unwrap_or(0), challenge, json)
}

/// As [`curl_with_challenge`], without the challenge.
pub async fn curl(pki: &TestPki, who: Option<&TestIdentity>, args: &[&str]) -> (u16, Value) {
    let (status, _, body) = curl_with_challenge(pki, who, args).await;
    (status, body)
}

/// A `client_credentials` token for `id`, authenticated with `who`'s certificate.
pub async fn token(pki: &TestPki, server: &RunningServer, who: &TestIdentity, id: &str) -> String {
    let url = format!("{}/token", server.mtls_url.clone().unwrap_or_default());
    let data = format!("grant_type=client_credentials&client_id={id}");
    let (status, body) = curl(pki, Some(who), &["-d", &data, &url]).await;
    assert_eq!(status, 200, "token for {id}: {body}");
    body["access_token"].as_str().unwrap_or_default().to_owned()
}
