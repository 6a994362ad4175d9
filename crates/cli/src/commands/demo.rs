//! `certbound demo`: the whole story on loopback, step by step. An
//! authorization server, a gateway and a sample upstream start in this
//! process with a throw-away PKI and SQLite store; two clients show that a
//! certificate-bound token is worthless to anyone but its holder.
//! Exits 0 only if every step behaved as it must.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::Router;
use axum::routing::get;
use certbound_client::{OAuthClient, TlsSettings};
use certbound_core::{AuthMethod, Thumbprint};
use certbound_pki::{CertificateRequest, WriteMode};
use certbound_server::clients::ClientMetadata;
use http::HeaderMap;
use serde_json::{Value, json};

/// How often the demo gateway polls the revocation list.
const REVOCATION_POLL_SECONDS: u64 = 1;
/// The longest the demo waits for a revocation to reach the gateway.
const REVOCATION_WAIT: Duration = Duration::from_secs(5);

/// Counts what went wrong while telling the story.
struct Story {
    failures: Vec<String>,
    step: usize,
}

impl Story {
    fn step(&mut self, title: &str, why: &str) {
        self.step += 1;
        println!("\nStep {}: {title}", self.step);
        println!("  why it matters: {why}");
    }

    fn check(&mut self, ok: bool, what: &str) {
        if ok {
            println!("  ✔ {what}");
        } else {
            println!("  ✘ {what}");
            self.failures.push(format!("step {}: {what}", self.step));
        }
    }
}

async fn orders(headers: HeaderMap) -> axum::Json<Value> {
    let get = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    axum::Json(json!({
        "orders": ["#1001", "#1002"],
        "served_to": get("x-certbound-client-id"),
        "certificate": get("x-certbound-cert-thumbprint"),
    }))
}

fn http_client(ca: &Path, identity: Option<(&Path, &Path)>) -> anyhow::Result<reqwest::Client> {
    let tls = TlsSettings::from_pem_files(Some(ca), identity)?;
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls((*tls.client_config()).clone())
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()?)
}

async fn get_json(
    client: &reqwest::Client,
    url: &str,
    token: &str,
) -> anyhow::Result<(u16, Value, String)> {
    let res = client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .with_context(|| format!("calling {url}"))?;
    let status = res.status().as_u16();
    let challenge = res
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = res.json().await.unwrap_or(Value::Null);
    Ok((status, body, challenge))
}

/// Runs the demo.
pub async fn run() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let dir = tmp.path();
    let pki = dir.join("pki");
    println!("certbound demo: certificate-bound access tokens (RFC 8705), end to end");
    println!("working in {} (removed at the end)", dir.display());

    certbound_pki::init_dir(
        &pki,
        certbound_pki::KeyAlgorithm::EcdsaP256,
        WriteMode::CreateNew,
    )?;
    for name in ["client-a", "client-b", "demo-gateway"] {
        let request = CertificateRequest {
            common_name: Some(name.into()),
            organization: Some("certbound demo".into()),
            ..Default::default()
        };
        certbound_pki::issue_into_dir(&pki, name, &request, false, WriteMode::CreateNew)?;
    }
    let file = |n: &str| pki.join(n);
    let ca = file("ca.pem");

    // The authorization server, its signing keys sealed under a fresh KEK.
    let kek = dir.join("kek");
    certbound_server::kek::KeyEncryptionKey::create_file(&kek)?;
    let as_toml = format!(
        "[storage]\nurl = \"sqlite://{}\"\n[tls]\ncert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"\n[listeners.mtls]\naddr = \"127.0.0.1:0\"\n[keys]\ncache_seconds = 1\nkek_file = \"{}\"\n",
        dir.join("certbound.db").display(),
        file("server.pem").display(),
        file("server.key").display(),
        ca.display(),
        kek.display()
    );
    let as_config =
        certbound_server::Config::from_toml(&as_toml, &dir.join("certbound.toml"), Vec::new())?;
    let server = certbound_server::start(as_config)
        .await
        .context("starting the authorization server")?;
    let register = |id: &'static str, scope: &'static str, audience: Option<String>| {
        let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
        m.tls_client_auth_subject_dn = Some(format!("CN={id},O=certbound demo"));
        m.scope = scope.into();
        // The gateway reads the revocation list, which needs the permission.
        m.may_introspect = id == "demo-gateway";
        m.audience = audience;
        let store = std::sync::Arc::clone(&server.server.store);
        async move { certbound_server::register_client(store.as_ref(), id, m, None).await }
    };
    register("demo-gateway", "", None).await?;
    let issuer = server.issuer.clone();
    let mtls = server.mtls_url.clone().unwrap_or_else(|| issuer.clone());
    println!(
        "authorization server   {issuer}  (clients: client-a, client-b, demo-gateway (may introspect); tls_client_auth by subject DN; a and b get tokens for the gateway's URL)"
    );

    // A sample upstream, reachable only through the gateway in a real deployment.
    let upstream_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let upstream = format!("http://{}", upstream_listener.local_addr()?);
    tokio::spawn(async move {
        axum::serve(
            upstream_listener,
            Router::new().route("/orders", get(orders)),
        )
        .await
    });
    println!("sample upstream        {upstream}/orders");

    // The gateway: verifies JWTs locally and polls the AS's revocation list
    // every second, so a revocation bites quickly without a call per token.
    let gw_toml = format!(
        "[listener]\nmode = \"mtls\"\naddr = \"127.0.0.1:0\"\n[tls]\ncert = \"{cert}\"\nkey = \"{key}\"\nclient_ca = \"{ca}\"\n[authorization_server]\nissuer = \"{issuer}\"\nca = \"{ca}\"\nvalidation = \"jwt\"\nintrospection_client_id = \"demo-gateway\"\ncert = \"{gwc}\"\nkey = \"{gwk}\"\nrevocation_poll_seconds = {REVOCATION_POLL_SECONDS}\n[[routes]]\npath_prefix = \"/orders\"\nupstream = \"{upstream}\"\nscopes = [\"orders.read\"]\n",
        cert = file("server.pem").display(),
        key = file("server.key").display(),
        ca = ca.display(),
        gwc = file("demo-gateway.pem").display(),
        gwk = file("demo-gateway.key").display(),
    );
    let gw_config =
        certbound_gateway::GatewayConfig::from_toml(&gw_toml, &dir.join("gateway.toml"))?;
    let gateway = certbound_gateway::start(gw_config)
        .await
        .context("starting the gateway")?;
    // The AS above is already up: this is one round of discovery.
    let ready = tokio::time::timeout(Duration::from_secs(30), gateway.ready()).await;
    if ready != Ok(true) {
        bail!("the gateway did not reach the authorization server within 30 s");
    }
    // The gateway checks `aud` against its own URL (no audience configured),
    // so the clients' tokens are issued for it.
    let gateway_url = format!("https://localhost:{}", gateway.addr.port());
    for id in ["client-a", "client-b"] {
        register(id, "orders.read", Some(gateway_url.clone())).await?;
    }
    let orders_url = format!("{gateway_url}/orders");
    println!(
        "gateway                {orders_url}  (route /orders needs scope orders.read, aud {gateway_url}, certificate-bound tokens only; JWTs verified locally, revocation list polled every {REVOCATION_POLL_SECONDS} s)"
    );

    let a_id = (file("client-a.pem"), file("client-a.key"));
    let b_id = (file("client-b.pem"), file("client-b.key"));
    let as_a = http_client(&ca, Some((&a_id.0, &a_id.1)))?;
    let as_b = http_client(&ca, Some((&b_id.0, &b_id.1)))?;
    let anonymous = http_client(&ca, None)?;
    let a_thumb =
        Thumbprint::of_der(&certbound_tls::pem::load_certificates(&a_id.0)?[0]).to_string();
    let mut story = Story {
        failures: Vec::new(),
        step: 0,
    };

    story.step(
        "client A gets an access token with its certificate",
        "mTLS proves who A is; the token records which certificate it belongs to",
    );
    let tls_a = TlsSettings::from_pem_files(Some(&ca), Some((&a_id.0, &a_id.1)))?;
    let oauth = OAuthClient::discover(&issuer, &tls_a).await?;
    let token = oauth
        .client_credentials("client-a", Some("orders.read"))
        .await?;
    let claims = token
        .access_token
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, p).ok()
        })
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .unwrap_or(Value::Null);
    println!("  token cnf.x5t#S256 = {}", claims["cnf"]["x5t#S256"]);
    println!("  client A's cert    = {a_thumb}");
    story.check(
        claims["cnf"]["x5t#S256"] == a_thumb.as_str(),
        "the token is bound to client A's certificate",
    );

    story.step(
        "client A calls the API through the gateway",
        "the holder of the token and of the key gets in",
    );
    let (status, body, _) = get_json(&as_a, &orders_url, &token.access_token).await?;
    println!("  HTTP {status} {body}");
    story.check(
        status == 200 && body["served_to"] == "client-a",
        "200, and the upstream knows the caller is client-a",
    );

    // The same replay, refused either way.
    for (attacker, step, why, expected) in [
        (
            &as_b,
            "an attacker replays A's token with client B's certificate",
            "a stolen bearer token would work here; a bound one does not",
            "401 invalid_token: wrong certificate",
        ),
        (
            &anonymous,
            "the attacker replays it with no certificate at all",
            "without the private key the token is worthless",
            "401 invalid_token: no certificate",
        ),
    ] {
        story.step(step, why);
        let (status, _, challenge) = get_json(attacker, &orders_url, &token.access_token).await?;
        println!("  HTTP {status}  WWW-Authenticate: {challenge}");
        story.check(
            status == 401 && challenge.contains("invalid_token"),
            expected,
        );
    }

    story.step(
        "introspection shows the binding",
        "resource servers that introspect see the same cnf (RFC 7662)",
    );
    // Client A sends its own token to the introspection and revocation endpoints.
    let about_token = |endpoint: &str| {
        as_a.post(format!("{mtls}/{endpoint}")).form(&[
            ("client_id", "client-a"),
            ("token", token.access_token.as_str()),
        ])
    };
    let info: Value = about_token("introspect").send().await?.json().await?;
    println!("  active = {}, cnf = {}", info["active"], info["cnf"]);
    story.check(
        info["active"] == true && info["cnf"]["x5t#S256"] == a_thumb.as_str(),
        "active, with cnf.x5t#S256 of client A",
    );

    story.step(
        "client A revokes the token",
        "a revoked token stops working at the gateway (RFC 7009), even though it verifies JWTs locally",
    );
    let revoked = about_token("revoke").send().await?.status();
    println!(
        "  revoke: HTTP {}; waiting for the gateway's next poll of the revocation list (every {REVOCATION_POLL_SECONDS} s, giving up after {} s)",
        revoked.as_u16(),
        REVOCATION_WAIT.as_secs()
    );
    let started = tokio::time::Instant::now();
    let (status, challenge) = loop {
        let (status, _, challenge) = get_json(&as_a, &orders_url, &token.access_token).await?;
        if status != 200 || started.elapsed() >= REVOCATION_WAIT {
            break (status, challenge);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!(
        "  after {:.1} s the gateway says HTTP {status}  {challenge}",
        started.elapsed().as_secs_f64()
    );
    story.check(
        revoked.is_success() && status == 401 && challenge.contains("revoked"),
        "401 after revocation, even with the right certificate",
    );

    gateway.stop().await;
    server.stop().await;
    println!();
    if story.failures.is_empty() {
        println!(
            "All {} steps behaved as they must. Next: `certbound serve` (README) to run your own.",
            story.step
        );
        Ok(())
    } else {
        bail!(
            "{} step(s) did not behave: {}",
            story.failures.len(),
            story.failures.join("; ")
        )
    }
}
