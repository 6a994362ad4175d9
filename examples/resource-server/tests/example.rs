//! The example's router behind a real certbound AS: the bound holder is
//! greeted, a replay with another certificate is 401, a missing scope 403.

use certbound_client::TlsSettings;
use certbound_core::AuthMethod;
use certbound_guard::{Guard, GuardOptions};
use certbound_server::clients::ClientMetadata;
use certbound_testkit::{TestIdentity, TestPki, or_panic, require_tool};
use certbound_tls::{ClientAuth, ClientCaBundle, ListenerMode};
use serde_json::Value;

async fn curl(pki: &TestPki, who: &TestIdentity, args: &[&str]) -> (u16, Value) {
    let out = or_panic(
        tokio::process::Command::new(require_tool("curl"))
            .args(["-sS", "--noproxy", "*", "-w", "\n%{http_code}", "--cacert"])
            .arg(pki.ca_path())
            .arg("--cert")
            .arg(&who.cert_path)
            .arg("--key")
            .arg(&who.key_path)
            .args(args)
            .output()
            .await,
        "curl",
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (
        status.parse().unwrap_or(0),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_resource_server_enforces_bound_tokens() {
    let pki = TestPki::new();
    let dir = or_panic(tempfile::tempdir(), "tempdir");
    let toml = format!(
        "[storage]\nurl = \"{}\"\n[tls]\ncert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"\n[listeners.mtls]\naddr = \"127.0.0.1:0\"\n",
        certbound_testkit::sqlite_url(dir.path()),
        pki.dir().join("server.pem").display(),
        pki.dir().join("server.key").display(),
        pki.ca_path().display(),
    );
    let server = or_panic(
        certbound_server::start(or_panic(
            certbound_server::Config::from_toml(&toml, &dir.path().join("c.toml"), Vec::new()),
            "config",
        ))
        .await,
        "AS",
    );
    let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
    m.tls_client_auth_subject_dn = Some("CN=client-a".into());
    m.scope = "hello.read".into();
    or_panic(
        certbound_server::register_client(server.server.store.as_ref(), "client-a", m, None).await,
        "register",
    );
    let (a, b) = (pki.simple_client("client-a"), pki.simple_client("client-b"));

    let tls = or_panic(
        TlsSettings::from_pem_files(Some(&pki.ca_path()), None),
        "tls",
    );
    let mut options = GuardOptions::new(server.issuer.clone());
    options.require_bound_tokens = true;
    let guard = or_panic(Guard::discover(options, &tls).await, "guard");
    let cas = or_panic(ClientCaBundle::from_pem_file(&pki.ca_path()), "CA");
    let config = or_panic(
        certbound_tls::server_config(
            pki.server_chain(),
            pki.server_key(),
            &ClientAuth::Request(cas.clone()),
        ),
        "tls config",
    );
    let listener = or_panic(tokio::net::TcpListener::bind("127.0.0.1:0").await, "bind");
    let port = or_panic(listener.local_addr(), "addr").port();
    tokio::spawn(certbound_tls::serve(
        listener,
        ListenerMode::MutualTls {
            config,
            client_cas: cas,
        },
        certbound_example_resource_server::app(guard),
        std::future::pending(),
    ));

    let token_url = format!("{}/token", server.mtls_url.clone().unwrap_or_default());
    let (status, body) = curl(
        &pki,
        &a,
        &[
            "-d",
            "grant_type=client_credentials&client_id=client-a",
            &token_url,
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let auth = format!(
        "Authorization: Bearer {}",
        body["access_token"].as_str().unwrap_or_default()
    );
    let hello = format!("https://localhost:{port}/hello");

    let (status, body) = curl(&pki, &a, &["-H", &auth, &hello]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "hello client-a");
    assert_eq!(body["bound_to"], Value::from(a.thumbprint().to_string()));
    let (status, body) = curl(&pki, &b, &["-H", &auth, &hello]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token")),
        "{body}"
    );
    let (status, body) = curl(
        &pki,
        &a,
        &["-H", &auth, &format!("https://localhost:{port}/admin")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope")),
        "{body}"
    );
    server.stop().await;
}
