//! An AS with a public (browser) listener and an mTLS listener on a
//! ManualClock, plus what the front-channel tests drive it with: a
//! cookie-keeping HTTP client that does not follow redirects, PKCE pairs,
//! users and public clients, and row counts.

#![allow(dead_code, missing_docs)]

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use certbound_core::{AuthMethod, ManualClock};
use certbound_server::clients::ClientMetadata;
use certbound_server::{Config, RunningServer};
use certbound_testkit::config::as_toml;
use certbound_testkit::{TestIdentity, TestPki};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

pub const LISTENERS: &str =
    "[listeners.mtls]\naddr = \"127.0.0.1:0\"\n[listeners.public]\naddr = \"127.0.0.1:0\"";

// Which database the server runs on.
pub use certbound_testkit::Backend as Db;
#[allow(unused_imports)]
pub use certbound_testkit::on_both_backends;

pub struct Front {
    pub pki: TestPki,
    pub dir: TempDir,
    pub server: RunningServer,
    pub clock: Arc<ManualClock>,
    /// The public listener's base URL (the issuer).
    pub base: String,
    /// The mTLS listener's base URL.
    pub mtls: String,
    pub store_url: String,
    /// Dropped (and the database with it) when the test ends.
    _pg: Option<certbound_testkit::TestPostgres>,
}

impl Front {
    pub async fn start(extra: &str) -> Self {
        Self::start_on(Db::Sqlite, extra).await
    }

    pub async fn start_on(db: Db, extra: &str) -> Self {
        let pki = TestPki::new();
        let dir = tempfile::tempdir().expect("tempdir");
        let (store_url, pg) = db.storage(dir.path());
        let toml = as_toml(&pki, &store_url, LISTENERS, extra);
        let config = Config::from_toml(&toml, &dir.path().join("certbound.toml"), Vec::new())
            .expect("config");
        let clock = Arc::new(ManualClock::new());
        let server = certbound_server::start_with_clock(config, clock.clone())
            .await
            .expect("start AS");
        let base = server.issuer.clone();
        let mtls = server.mtls_url.clone().expect("mtls url");
        Self {
            pki,
            dir,
            server,
            clock,
            base,
            mtls,
            store_url,
            _pg: pg,
        }
    }

    pub fn store(&self) -> &dyn certbound_store::Store {
        self.server.server.store.as_ref()
    }

    pub async fn add_user(&self, username: &str, display_name: &str, password: &str) {
        certbound_server::users::add_user(
            self.store(),
            certbound_server::users::NewUser {
                username: username.into(),
                display_name: Some(display_name.into()),
                email: None,
                password: password.into(),
            },
        )
        .await
        .expect("add user");
    }

    /// A public (`none`) client with the code (and refresh) grant.
    pub async fn public_client(&self, id: &str, name: Option<&str>, redirect_uris: &[&str]) {
        let mut m = ClientMetadata::new(AuthMethod::None);
        m.grant_types = vec!["authorization_code".into(), "refresh_token".into()];
        m.redirect_uris = redirect_uris.iter().map(|s| (*s).to_owned()).collect();
        m.scope = "read write".into();
        m.client_name = name.map(str::to_owned);
        certbound_testkit::server::register_client(&self.server, id, m, None).await;
    }

    pub async fn register(&self, id: &str, m: ClientMetadata) {
        certbound_testkit::server::register_client(&self.server, id, m, None).await;
    }

    /// A browser: keeps cookies, follows no redirects, trusts the test CA.
    pub fn browser(&self) -> reqwest::Client {
        self.http(None)
    }

    /// An HTTP client presenting `identity` (the login app).
    pub fn http(&self, identity: Option<&TestIdentity>) -> reqwest::Client {
        let tls = certbound_testkit::client_config(self.pki.ca_der(), identity);
        reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .expect("client")
    }

    /// Rows in the front channel's tables.
    pub async fn counts(&self) -> [(&'static str, i64); 3] {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.store_url)
            .await
            .expect("connect");
        let mut out = [
            ("interactions", 0),
            ("authorization_codes", 0),
            ("consents", 0),
        ];
        for (table, n) in &mut out {
            *n = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&pool)
                .await
                .expect("count");
        }
        pool.close().await;
        out
    }

    /// Completed interactions, to see that a refused step changed nothing.
    pub async fn completed_interactions(&self) -> i64 {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.store_url)
            .await
            .expect("connect");
        let n =
            sqlx::query_scalar("SELECT COUNT(*) FROM interactions WHERE completed_at IS NOT NULL")
                .fetch_one(&pool)
                .await
                .expect("count");
        pool.close().await;
        n
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GETs `path` with `browser` and returns the page's HTML.
    pub async fn page(&self, browser: &reqwest::Client, path: &str) -> String {
        let res = browser.get(self.url(path)).send().await.expect("GET");
        res.text().await.expect("page")
    }
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand_bytes());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn rand_bytes() -> [u8; 32] {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let seed = format!(
        "{:?}{}",
        std::time::SystemTime::now(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    Sha256::digest(seed.as_bytes()).into()
}

/// `/authorize?…` with `params`, query-encoded.
pub fn authorize_query(params: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        q.append_pair(k, v);
    }
    format!("/authorize?{}", q.finish())
}

/// The usual good request parameters for `client_id`.
pub fn good_params<'a>(
    client_id: &'a str,
    redirect_uri: &'a str,
    challenge: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", "read"),
        ("state", "st-123"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default()
}

pub fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default()
}

/// A query parameter of a URL.
pub fn param(url: &str, name: &str) -> Option<String> {
    let parsed = url::Url::parse(url)
        .or_else(|_| url::Url::parse(&format!("https://x{url}")))
        .ok()?;
    parsed
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The `value` of the hidden input `name` in `html`.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].to_owned()
}

/// `a=1&b=2`, encoded.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut f = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        f.append_pair(k, v);
    }
    f.finish()
}

/// POSTs a form body.
pub async fn post_form(
    client: &reqwest::Client,
    url: &str,
    pairs: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs))
        .send()
        .await
        .expect("POST")
}

/// What a browser at the login page sees and needs to submit it.
pub struct LoginForm {
    pub challenge: String,
    pub csrf: String,
    pub html: String,
}

/// Starts an authorization with `params` and opens the login page.
pub async fn open_login(
    front: &Front,
    browser: &reqwest::Client,
    params: &[(&str, &str)],
) -> LoginForm {
    let res = browser
        .get(front.url(&authorize_query(params)))
        .send()
        .await
        .expect("authorize");
    assert_eq!(
        res.status(),
        303,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let to_login = location(&res);
    assert!(
        to_login.starts_with("/authorize/login?challenge="),
        "{to_login}"
    );
    let page = browser
        .get(front.url(&to_login))
        .send()
        .await
        .expect("login page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    LoginForm {
        challenge: hidden(&html, "challenge"),
        csrf: hidden(&html, "csrf_token"),
        html,
    }
}

/// Submits the login form.
pub async fn submit_login(
    front: &Front,
    browser: &reqwest::Client,
    login: &LoginForm,
    username: &str,
    password: &str,
) -> reqwest::Response {
    post_form(
        browser,
        &front.url("/authorize/login"),
        &[
            ("challenge", &login.challenge),
            ("csrf_token", &login.csrf),
            ("username", username),
            ("password", password),
        ],
    )
    .await
}

/// GETs `url` with `client` and returns the JSON body.
pub async fn get_json(client: &reqwest::Client, url: impl reqwest::IntoUrl) -> serde_json::Value {
    let res = client.get(url).send().await.expect("GET");
    res.json().await.expect("JSON body")
}

/// Submits the consent page `html` (its challenge and CSRF token) with
/// `fields` after them, such as the decision.
pub async fn submit_consent(
    front: &Front,
    browser: &reqwest::Client,
    html: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let (challenge, csrf) = (hidden(html, "challenge"), hidden(html, "csrf_token"));
    let form = [
        &[("challenge", challenge.as_str()), ("csrf_token", &csrf)][..],
        fields,
    ]
    .concat();
    post_form(browser, &front.url("/authorize/consent"), &form).await
}

/// The repository root (screenshots go to docs/img, node scripts live in interop/node).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs interop/node's `script` (which needs the npm `package` installed)
/// with `env` and the Chromium to drive in `CHROMIUM`, for two minutes at
/// the most; returns the JSON report its last line of output holds. A
/// report naming an `error` fails the test.
pub async fn run_node_script(
    script: &str,
    package: &str,
    env: &[(&str, &std::ffi::OsStr)],
) -> serde_json::Value {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    certbound_testkit::require_tool(&chromium);
    let node_dir = repo_root().join("interop/node");
    assert!(
        node_dir.join("node_modules").join(package).exists(),
        "{package} is not installed: run scripts/test.sh (or npm ci in interop/node)"
    );
    let out = tokio::process::Command::new(certbound_testkit::require_tool("node"))
        .arg(script)
        .current_dir(&node_dir)
        .envs(env.iter().copied())
        .env("CHROMIUM", &chromium)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(120), out)
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish in time"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "no report: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert!(report.get("error").is_none(), "{report:#}");
    report
}

/// The client's loopback redirect URI: a listener answering every request with 200.
pub async fn loopback_client() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().fallback(|| async { "signed in; you can close this window" });
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://127.0.0.1:{port}/cb")
}
