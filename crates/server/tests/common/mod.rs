//! A real authorization server on 127.0.0.1:0 over SQLite or PostgreSQL,
//! driven with curl; shared by the server's integration tests.

#![allow(dead_code, missing_docs)]

use certbound_server::RunningServer;
use certbound_server::clients::ClientMetadata;
use certbound_testkit::config::{MTLS_LISTENER, as_toml};
use certbound_testkit::server::{register_client, start_as_from};
use certbound_testkit::{Curl, TestIdentity, TestPki, TestPostgres, json_or_text};
use serde_json::Value;
use tempfile::TempDir;

#[allow(unused_imports)]
pub use certbound_testkit::{Backend, on_both_backends};

pub struct TestServer {
    pub pki: TestPki,
    pub running: Option<RunningServer>,
    pub url: String,
    pub store_url: String,
    pub dir: TempDir,
    _pg: Option<TestPostgres>,
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, "").await
    }

    /// Starts with extra TOML appended to the base config.
    pub async fn start_with(backend: Backend, extra: &str) -> Self {
        // Capture the server's audit events from the first start on.
        let _ = audit_log();
        let pki = TestPki::new();
        let dir = tempfile::tempdir().expect("tempdir");
        let (store_url, pg) = backend.storage(dir.path());
        let toml = as_toml(&pki, &store_url, MTLS_LISTENER, extra);
        let running = start_as_from(&toml, dir.path()).await;
        let url = running.mtls_url.clone().unwrap_or_default();
        Self {
            pki,
            running: Some(running),
            url,
            store_url,
            dir,
            _pg: pg,
        }
    }

    pub fn running(&self) -> &RunningServer {
        match &self.running {
            Some(r) => r,
            None => panic!("server stopped"),
        }
    }

    pub async fn register(&self, id: &str, metadata: ClientMetadata, secret: Option<&str>) {
        register_client(self.running(), id, metadata, secret).await;
    }

    /// Registers each `(id, metadata)` without a secret; returns their
    /// certificates (`CN=id`), in order.
    pub async fn register_each<const N: usize>(
        &self,
        clients: [(&str, ClientMetadata); N],
    ) -> [TestIdentity; N] {
        for (id, metadata) in &clients {
            self.register(id, metadata.clone(), None).await;
        }
        clients.map(|(id, _)| self.pki.simple_client(id))
    }

    /// POSTs `body` to `path` with curl; returns (status, JSON body or Null).
    pub async fn post(
        &self,
        path: &str,
        identity: Option<&TestIdentity>,
        body: &[u8],
        headers: &[&str],
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.url);
        self.post_to(&url, identity, body, headers, &[]).await
    }

    /// POSTs to a full URL, with extra curl arguments.
    pub async fn post_to(
        &self,
        url: &str,
        identity: Option<&TestIdentity>,
        body: &[u8],
        headers: &[&str],
        extra: &[&str],
    ) -> (u16, Value) {
        let body_file = self.dir.path().join(format!("body-{}", unique()));
        std::fs::write(&body_file, body).expect("write body");
        let mut curl = Curl::new()
            .status()
            .ca(&self.pki)
            .arg("--data-binary")
            .arg(format!("@{}", body_file.display()));
        if !headers
            .iter()
            .any(|h| h.to_ascii_lowercase().starts_with("content-type"))
        {
            curl = curl.args(["-H", "Content-Type: application/x-www-form-urlencoded"]);
        }
        for h in headers {
            curl = curl.args(["-H", h]);
        }
        let out = curl.identity(identity).args(extra).arg(url).run().await;
        assert!(out.code == 0, "curl failed: {}{}", out.stdout, out.stderr);
        let (status, body) = out.status_and_body();
        (status, json_or_text(body))
    }

    /// A `client_credentials` request for `client_id` with the given certificate.
    pub async fn token_request(
        &self,
        identity: Option<&TestIdentity>,
        client_id: &str,
    ) -> (u16, Value) {
        let form = format!("grant_type=client_credentials&client_id={client_id}");
        self.post("/token", identity, form.as_bytes(), &[]).await
    }

    /// POSTs `client_id=ID&token=TOKEN` to `path` (`/introspect`,
    /// `/revoke`) over mTLS as `who`.
    pub async fn about_token(
        &self,
        path: &str,
        who: &TestIdentity,
        id: &str,
        token: &str,
    ) -> (u16, Value) {
        let form = format!("client_id={id}&token={token}");
        self.post(path, Some(who), form.as_bytes(), &[]).await
    }

    /// What `/introspect` says about `token` to client `id` (expects a 200).
    pub async fn introspect(&self, who: &TestIdentity, id: &str, token: &str) -> Value {
        let (status, body) = self.about_token("/introspect", who, id, token).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// A token for `client_id` with the given certificate (expects success).
    pub async fn token(&self, identity: Option<&TestIdentity>, client_id: &str) -> String {
        let (status, body) = self.token_request(identity, client_id).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap_or_default().to_owned()
    }

    pub async fn get(&self, path: &str) -> Value {
        let out = Curl::new()
            .arg("--fail")
            .ca(&self.pki)
            .arg(format!("{}{path}", self.url))
            .run()
            .await;
        assert!(out.code == 0, "GET {path}: {}", out.stderr);
        serde_json::from_str(&out.stdout).expect("JSON")
    }

    /// Row counts of every table, to prove a refused request wrote nothing.
    pub async fn row_counts(&self) -> Vec<(String, i64)> {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.store_url)
            .await
            .expect("connect for counting");
        let mut out = Vec::new();
        for table in [
            "clients",
            "signing_keys",
            "opaque_tokens",
            "revoked_jtis",
            "users",
            "interactions",
            "consents",
            "authorization_codes",
            "grants",
            "refresh_tokens",
            "grant_access_tokens",
        ] {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&pool)
                .await
                .expect("count");
            out.push((table.to_owned(), n));
        }
        pool.close().await;
        out
    }

    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }
}

/// Asserts `token`'s `cnf.x5t#S256` is the thumbprint of `holder`'s certificate.
pub fn assert_bound(token: &str, holder: &TestIdentity) {
    assert_eq!(
        claims(token)["cnf"]["x5t#S256"],
        Value::from(holder.thumbprint().to_string())
    );
}

/// Everything logged by this test process, so tests can read the audit
/// events the server writes (installed once as the global subscriber).
pub fn audit_log() -> String {
    certbound_testkit::log::captured()
}

/// Whether an audit line names `client_id` and contains every one of `parts`.
pub fn audited(client_id: &str, parts: &[&str]) -> bool {
    let id = format!("client_id={client_id:?}");
    audit_log()
        .lines()
        .any(|l| l.contains(&id) && parts.iter().all(|p| l.contains(p)))
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The acceptance pipeline: openssl computes the certificate's x5t#S256.
pub fn openssl_thumbprint(cert: &std::path::Path) -> String {
    let script = format!(
        "openssl x509 -in '{}' -outform DER | openssl dgst -sha256 -binary | basenc --base64url",
        cert.display()
    );
    let (code, out, err) = certbound_testkit::run(
        std::process::Command::new("bash").args(["-o", "pipefail", "-c", &script]),
    );
    assert_eq!(code, 0, "{err}");
    out.trim().trim_end_matches('=').to_owned()
}

#[allow(unused_imports)]
pub use certbound_testkit::{jwt_claims as claims, jwt_header as header};
