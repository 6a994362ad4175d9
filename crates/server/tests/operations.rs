//! Running behind a TLS-terminating proxy, and readiness when the database
//! goes away and comes back (no restart).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use certbound_core::AuthMethod;
use certbound_server::clients::ClientMetadata;
use certbound_testkit::run;
use common::{Backend, TestServer, claims};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_through_a_trusted_proxy_are_bound_to_the_forwarded_certificate() {
    let server = TestServer::start_with(
        Backend::Sqlite,
        "[listeners.proxy]\naddr = \"127.0.0.1:0\"\nurl = \"https://as.example\"\ntrusted_proxies = [\"127.0.0.2\"]\ncertificate_header = \"rfc9440\"\n",
    )
    .await;
    let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
    m.tls_client_auth_subject_dn = Some("CN=alice".into());
    server.register("alice", m, None).await;
    let alice = server.pki.simple_client("alice");
    let header = format!(
        "Client-Cert: :{}:",
        base64::engine::general_purpose::STANDARD.encode(&alice.issued.cert_der)
    );
    let addr = server
        .running()
        .proxy_addr
        .unwrap_or_else(|| panic!("proxy listener"));
    let url = format!("http://{addr}/token");
    let body = b"grant_type=client_credentials&client_id=alice";

    // From the trusted proxy: authenticated and bound to the forwarded certificate.
    let (status, json) = server
        .post_to(&url, None, body, &[&header], &["--interface", "127.0.0.2"])
        .await;
    assert_eq!(status, 200, "{json}");
    let token = json["access_token"].as_str().unwrap_or_default();
    common::assert_bound(token, &alice);
    // Metadata advertises the proxy's public URL.
    assert_eq!(claims(token)["iss"], "https://as.example");

    // Another format from the trusted proxy (a client could smuggle it past a
    // proxy that only overwrites its own header) is never believed.
    let spoof = format!(
        "X-SSL-Client-Cert: {}",
        alice
            .issued
            .cert_pem
            .replace('\n', "%0A")
            .replace(' ', "%20")
    );
    let (status, json) = server
        .post_to(&url, None, body, &[&spoof], &["--interface", "127.0.0.2"])
        .await;
    assert_eq!(
        (status, json["error"].as_str()),
        (401, Some("invalid_client")),
        "{json}"
    );

    // A CA-issued certificate whose keyUsage lacks digitalSignature does
    // not authenticate from the trusted proxy either.
    let mut request = certbound_testkit::request_cn("alice");
    request.key_usages = Some(vec![certbound_pki::KeyUsagePurpose::KeyCertSign]);
    let no_sign = server.pki.client("alice-no-sign", request);
    let no_sign_header = format!(
        "Client-Cert: :{}:",
        base64::engine::general_purpose::STANDARD.encode(&no_sign.issued.cert_der)
    );
    let (status, json) = server
        .post_to(
            &url,
            None,
            body,
            &[&no_sign_header],
            &["--interface", "127.0.0.2"],
        )
        .await;
    assert_eq!(
        (status, json["error"].as_str()),
        (401, Some("invalid_client")),
        "{json}"
    );
    assert!(common::audited(
        "alice",
        &["keyUsage does not include digitalSignature"]
    ));

    // The same header from anyone else is stripped: no certificate, invalid_client.
    let (status, json) = server.post_to(&url, None, body, &[&header], &[]).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (401, Some("invalid_client")),
        "{json}"
    );
}

fn psql(sql: &str) {
    let (code, _, err) = run(std::process::Command::new("psql").args([
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-d",
        "postgres",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        sql,
    ]));
    assert_eq!(code, 0, "{sql}: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_is_503_with_retry_after_and_recovers_without_restart() {
    let server = TestServer::start(Backend::Postgres).await;
    let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
    m.tls_client_auth_subject_dn = Some("CN=alice".into());
    server.register("alice", m, None).await;
    let alice = server.pki.simple_client("alice");
    assert_eq!(server.get("/readyz").await["status"], "ready");

    let db = server
        .store_url
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    psql(&format!("ALTER DATABASE \"{db}\" ALLOW_CONNECTIONS false"));
    psql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'"
    ));

    let ca = server.pki.ca_path();
    let out = tokio::process::Command::new("curl")
        .args(["-sS", "--noproxy", "*", "-D", "-", "--cacert"])
        .arg(&ca)
        .arg(format!("{}/readyz", server.url))
        .output()
        .await
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(
        text.starts_with("http/1.1 503") || text.starts_with("http/2 503"),
        "{text}"
    );
    assert!(text.contains("retry-after: 5"), "{text}");
    let (status, json) = server
        .post(
            "/token",
            Some(&alice),
            b"grant_type=client_credentials&client_id=alice",
            &[],
        )
        .await;
    assert_eq!(
        (status, json["error"].as_str()),
        (503, Some("temporarily_unavailable")),
        "{json}"
    );

    psql(&format!("ALTER DATABASE \"{db}\" ALLOW_CONNECTIONS true"));
    assert_eq!(server.get("/readyz").await["status"], "ready");
    assert!(!server.token(Some(&alice), "alice").await.is_empty());
}
