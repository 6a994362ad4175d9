//! A real authorization server in the test's runtime (feature `server`):
//! start one, register clients, get tokens, call it with curl.

use std::path::Path;

use certbound_core::{AccessTokenClaims, AuthMethod, Clock, Confirmation, SystemClock};
use certbound_server::clients::{ClientMetadata, TokenFormat};
use certbound_server::{Config, RunningServer};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::config::{MTLS_LISTENER, as_toml};
use crate::{Curl, TestIdentity, TestPki, mtls_mode};

/// Starts an AS from `toml` (see [`as_toml`]); `dir` is where the config
/// file would be, for paths relative to it.
pub async fn start_as_from(toml: &str, dir: &Path) -> RunningServer {
    let config =
        Config::from_toml(toml, &dir.join("certbound.toml"), Vec::new()).expect("AS config");
    certbound_server::start(config).await.expect("start AS")
}

/// Starts an AS on SQLite in `dir` with the PKI's server certificate and
/// client CA, one mTLS listener, and no key cache; `extra` TOML is appended.
pub async fn start_as(pki: &TestPki, dir: &Path, extra: &str) -> RunningServer {
    let toml = as_toml(pki, &crate::sqlite_url(dir), MTLS_LISTENER, extra);
    start_as_from(&toml, dir).await
}

/// Registers `id` with `metadata` and an optional client secret.
pub async fn register_client(
    server: &RunningServer,
    id: &str,
    metadata: ClientMetadata,
    secret: Option<&str>,
) {
    certbound_server::register_client(
        server.server.store.as_ref(),
        id,
        metadata,
        secret.map(certbound_server::clients::hash_secret),
    )
    .await
    .expect("register client");
}

/// `tls_client_auth` metadata matched by `CN=id`.
pub fn tls_client(id: &str) -> ClientMetadata {
    let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
    m.tls_client_auth_subject_dn = Some(format!("CN={id}"));
    m
}

/// Registers `id` as a `tls_client_auth` client matched by `CN=id`.
pub async fn register_tls_client(
    server: &RunningServer,
    id: &str,
    scope: &str,
    format: TokenFormat,
) {
    let mut m = tls_client(id);
    m.scope = scope.into();
    m.access_token_format = format;
    register_client(server, id, m, None).await;
}

/// Registers `id` as a `tls_client_auth` client (`CN=id`) with no scopes
/// and `may_introspect`, as a gateway or resource server is registered.
pub async fn register_introspecting_client(server: &RunningServer, id: &str) {
    let mut m = tls_client(id);
    m.may_introspect = true;
    register_client(server, id, m, None).await;
}

/// curl with the PKI's CA and an optional client identity; returns the
/// status, the `WWW-Authenticate` value (lower-cased) and the JSON body
/// (a string when the body is not JSON).
pub async fn curl_with_challenge(
    pki: &TestPki,
    who: Option<&TestIdentity>,
    args: &[&str],
) -> (u16, String, Value) {
    let out = Curl::new()
        .headers()
        .status()
        .ca(pki)
        .identity(who)
        .args(args)
        .run()
        .await;
    let (status, body) = out.status_and_body();
    let json = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()));
    (status, out.header("www-authenticate"), json)
}

/// As [`curl_with_challenge`], without the challenge.
pub async fn curl(pki: &TestPki, who: Option<&TestIdentity>, args: &[&str]) -> (u16, Value) {
    let (status, _, body) = curl_with_challenge(pki, who, args).await;
    (status, body)
}

/// A `client_credentials` token for `id` from the AS at `base_url`,
/// authenticated with `who`'s certificate (expects success).
pub async fn token_at(
    pki: &TestPki,
    base_url: &str,
    who: Option<&TestIdentity>,
    id: &str,
) -> String {
    let url = format!("{base_url}/token");
    let data = format!("grant_type=client_credentials&client_id={id}");
    let (status, body) = curl(pki, who, &["-d", &data, &url]).await;
    assert_eq!(status, 200, "token for {id}: {body}");
    body["access_token"].as_str().unwrap_or_default().to_owned()
}

/// A `client_credentials` token for `id`, authenticated with `who`'s certificate.
pub async fn token(pki: &TestPki, server: &RunningServer, who: &TestIdentity, id: &str) -> String {
    let base = server.mtls_url.clone().unwrap_or_default();
    token_at(pki, &base, Some(who), id).await
}

/// What most AS-backed tests begin with: a PKI, a temporary directory and
/// an AS started in it by [`start_as`]. Destructure it to use the parts.
pub struct AsFixture {
    /// The PKI the AS's certificates come from.
    pub pki: TestPki,
    /// Holds the AS's database; removed on drop.
    pub dir: tempfile::TempDir,
    /// The running AS.
    pub server: RunningServer,
}

impl AsFixture {
    /// A fresh PKI and directory and an AS with `extra` TOML.
    pub async fn start(extra: &str) -> Self {
        let pki = TestPki::new();
        let dir = tempfile::tempdir().expect("tempdir");
        let server = start_as(&pki, dir.path(), extra).await;
        Self { pki, dir, server }
    }

    /// The PKI, the AS and its directory, for a test that needs no more
    /// than the AS: keep the directory (`_dir`) as long as the AS runs.
    pub fn into_parts(self) -> (TestPki, RunningServer, tempfile::TempDir) {
        (self.pki, self.server, self.dir)
    }
}

/// Registers `id` as a JWT `tls_client_auth` client with `scope` and
/// issues its certificate (`CN=id`).
pub async fn jwt_client(
    server: &RunningServer,
    pki: &TestPki,
    id: &str,
    scope: &str,
) -> TestIdentity {
    register_tls_client(server, id, scope, TokenFormat::Jwt).await;
    pki.simple_client(id)
}

/// Serves `app` with [`mtls_mode`] on 127.0.0.1:0 until `shutdown`
/// completes; returns the port.
pub async fn serve_mtls(
    pki: &TestPki,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("local address").port();
    tokio::spawn(certbound_tls::serve(
        listener,
        mtls_mode(pki),
        certbound_tls::ConnectionLimits::default(),
        app,
        shutdown,
    ));
    port
}

/// Rotates the AS's signing key to a new ES256 key that signs at once
/// (not published ahead), the old one published for another 600 s.
pub async fn rotate_key(server: &RunningServer) {
    certbound_server::keys::rotate(
        server.server.store.as_ref(),
        server.server.keys.key_encryption(),
        certbound_server::keys::SigningAlg::Es256,
        600,
        0,
    )
    .await
    .expect("rotate");
}

/// A JWT access token for `client_id` (scope `read`, bound to `who`) signed
/// with the AS's active key whose `exp` passed a minute ago: what an issued
/// token becomes once its lifetime is over, without waiting for that.
pub async fn expired_token(server: &RunningServer, client_id: &str, who: &TestIdentity) -> String {
    let now = SystemClock.unix_seconds();
    let claims = AccessTokenClaims {
        iss: server.issuer.clone(),
        sub: client_id.to_owned(),
        aud: server.issuer.clone(),
        exp: now - 60,
        iat: now - 120,
        jti: format!("expired-{client_id}-{now}"),
        client_id: client_id.to_owned(),
        scope: Some("read".into()),
        cnf: Some(Confirmation::for_thumbprint(who.thumbprint())),
    };
    let keys = server.server.keys.get().await.expect("signing keys");
    keys.active.signer.sign_claims(&claims).expect("sign")
}
