//! The mTLS listener end to end: real handshakes with curl and rustls.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use certbound_pki::CertificateRequest;
use certbound_testkit::{
    TestIdentity, TestPki, client_config, client_config_versions, curl_tls_args, request_cn,
};
use common::{curl, curl_as, json, rustls_get, start_mtls};
use serde_json::Value;

fn url(addr: std::net::SocketAddr) -> String {
    format!("https://{addr}/whoami")
}

#[tokio::test]
async fn curl_ca_signed_client_is_seen_with_validated_chain() {
    let pki = TestPki::new();
    let alice = pki.client(
        "alice",
        CertificateRequest {
            common_name: Some("Client A".into()),
            organization: Some("Bank".into()),
            ..CertificateRequest::default()
        },
    );
    let server = start_mtls(&pki).await;
    let (code, body) = curl_as(&pki, &alice, &[], &url(server.addr)).await;
    assert_eq!(code, 0, "{body}");
    let v = json(&body);
    assert_eq!(
        v["certificate"]["x5t#S256"],
        Value::from(alice.thumbprint().to_string())
    );
    assert_eq!(v["certificate"]["subject_dn"], "CN=Client A,O=Bank");
    assert_eq!(v["certificate"]["chain_validated"], true);
    assert_eq!(v["certificate"]["source"], "MutualTls");
}

#[tokio::test]
async fn curl_self_signed_client_is_accepted_but_not_chain_validated() {
    let pki = TestPki::new();
    let selfie = pki.self_signed("selfie", request_cn("Self Signed"));
    let server = start_mtls(&pki).await;
    let (code, body) = curl_as(&pki, &selfie, &[], &url(server.addr)).await;
    assert_eq!(code, 0, "{body}");
    assert_unvalidated(&json(&body), &selfie, "invalid:");
}

#[tokio::test]
async fn no_certificate_means_the_handler_sees_none() {
    let pki = TestPki::new();
    let server = start_mtls(&pki).await;
    let ca = pki.ca_path().to_string_lossy().into_owned();
    let (code, body) = curl(&["--cacert", &ca, &url(server.addr)]).await;
    assert_eq!(code, 0, "{body}");
    assert_eq!(json(&body)["certificate"], Value::Null);
}

#[tokio::test]
async fn expired_ca_signed_certificate_is_recorded_as_invalid_chain() {
    let pki = TestPki::new();
    let now = time::OffsetDateTime::now_utc();
    let old = pki.client(
        "old",
        CertificateRequest {
            common_name: Some("Old".into()),
            validity: Some((
                now - time::Duration::days(30),
                now - time::Duration::days(1),
            )),
            ..CertificateRequest::default()
        },
    );
    let server = start_mtls(&pki).await;
    let config = Arc::new(client_config(pki.ca_der(), Some(&old)));
    let (v, _) = rustls_get(server.addr, config).await.expect("request");
    assert_unvalidated(&v, &old, "xpired");
}

#[tokio::test]
async fn a_key_that_does_not_match_the_certificate_fails_the_handshake() {
    let pki = TestPki::new();
    let alice = pki.simple_client("alice");
    let mallory = pki.simple_client("mallory");
    let server = start_mtls(&pki).await;

    // rustls sends alice's certificate but signs CertificateVerify with
    // mallory's key: exactly what a thief holding only the certificate can do.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca_der()).expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signer = provider
        .key_provider
        .load_private_key(certbound_testkit::load_key(&mallory.key_path))
        .expect("load key");
    let stolen = Arc::new(rustls::sign::CertifiedKey::new(
        certbound_testkit::load_certs(&alice.cert_path),
        signer,
    ));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_client_cert_resolver(Arc::new(AlwaysSend(stolen)));
    let result = rustls_get(server.addr, Arc::new(config)).await;
    let err = match result {
        Ok(v) => panic!("handshake must fail, got {v:?}"),
        Err(e) => e.to_string(),
    };
    // The server rejected the CertificateVerify signature with a decrypt_error alert.
    assert!(err.contains("DecryptError"), "{err}");

    // curl refuses the mismatched pair too (before or during the handshake).
    let mut args = curl_tls_args(&pki.ca_path(), &alice.cert_path, &mallory.key_path);
    args.push(url(server.addr));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, body) = curl(&args).await;
    assert_ne!(code, 0, "{body}");

    // The server is still healthy afterwards.
    let (v, _) = rustls_get(
        server.addr,
        Arc::new(client_config(pki.ca_der(), Some(&alice))),
    )
    .await
    .expect("good request");
    assert_eq!(
        v["certificate"]["x5t#S256"],
        Value::from(alice.thumbprint().to_string())
    );
}

#[derive(Debug)]
struct AlwaysSend(Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for AlwaysSend {
    fn resolve(
        &self,
        _: &[&[u8]],
        _: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }
    fn has_certs(&self) -> bool {
        true
    }
}

#[tokio::test]
async fn tls13_resumption_keeps_the_client_certificate() {
    let (pki, alice) = alice();
    let server = start_mtls(&pki).await;
    let config = only(&pki, &alice, &rustls::version::TLS13);

    let (first, first_resumed) = rustls_get(server.addr, Arc::clone(&config))
        .await
        .expect("first");
    assert!(!first_resumed);
    assert_eq!(first["tls_version"], "TLSv1_3");
    let (second, second_resumed) = rustls_get(server.addr, config).await.expect("second");
    assert!(second_resumed, "client should have resumed");
    assert_eq!(
        second["resumed"], true,
        "server should see a resumed session"
    );
    assert_eq!(
        second["certificate"]["x5t#S256"],
        Value::from(alice.thumbprint().to_string())
    );
    assert_eq!(second["certificate"], first["certificate"]);
}

#[tokio::test]
async fn tls12_clients_are_served_too() {
    let (pki, alice) = alice();
    let server = start_mtls(&pki).await;
    let config = only(&pki, &alice, &rustls::version::TLS12);
    let (v, _) = rustls_get(server.addr, config).await.expect("tls1.2");
    assert_eq!(v["tls_version"], "TLSv1_2");
    assert_eq!(
        v["certificate"]["x5t#S256"],
        Value::from(alice.thumbprint().to_string())
    );
    assert_eq!(v["certificate"]["chain_validated"], true);

    let (code, body) = curl_as(&pki, &alice, &["--tls-max", "1.2"], &url(server.addr)).await;
    assert_eq!(code, 0, "{body}");
    assert_eq!(json(&body)["tls_version"], "TLSv1_2");
    assert_eq!(
        json(&body)["certificate"]["x5t#S256"],
        Value::from(alice.thumbprint().to_string())
    );
}

#[tokio::test]
async fn certificate_headers_sent_over_mtls_are_stripped() {
    let pki = TestPki::new();
    let server = start_mtls(&pki).await;
    let ca = pki.ca_path().to_string_lossy().into_owned();
    let (code, body) = curl(&[
        "--cacert",
        &ca,
        "-H",
        "Client-Cert: :AQID:",
        "-H",
        "X-Forwarded-Client-Cert: Cert=x",
        &url(server.addr),
    ])
    .await;
    assert_eq!(code, 0, "{body}");
    let v = json(&body);
    assert_eq!(v["certificate"], Value::Null);
    assert_eq!(v["certificate_headers_seen"], serde_json::json!([]));
}

#[tokio::test]
async fn tls_listener_without_client_auth_never_asks() {
    let pki = TestPki::new();
    let alice = pki.simple_client("alice");
    let config = certbound_tls::server_config(
        pki.server_chain(),
        pki.server_key(),
        &certbound_tls::ClientAuth::None,
    )
    .expect("config");
    let server = common::start(certbound_tls::ListenerMode::Tls { config }).await;
    let (v, _) = rustls_get(
        server.addr,
        Arc::new(client_config(pki.ca_der(), Some(&alice))),
    )
    .await
    .expect("request");
    assert_eq!(v["certificate"], Value::Null);
}

/// The handler saw `who`'s certificate, recorded as not chain-validated,
/// with a status that says `why`.
fn assert_unvalidated(v: &Value, who: &TestIdentity, why: &str) {
    assert_eq!(
        v["certificate"]["x5t#S256"],
        Value::from(who.thumbprint().to_string())
    );
    assert_eq!(v["certificate"]["chain_validated"], false);
    let status = v["certificate"]["chain_status"]
        .as_str()
        .unwrap_or_default();
    assert!(status.contains(why), "{status}");
}

/// A PKI with one client, `alice`.
fn alice() -> (TestPki, TestIdentity) {
    let pki = TestPki::new();
    let alice = pki.simple_client("alice");
    (pki, alice)
}

/// A client config presenting `who` that speaks only `version`.
fn only(
    pki: &TestPki,
    who: &TestIdentity,
    version: &'static rustls::SupportedProtocolVersion,
) -> Arc<rustls::ClientConfig> {
    Arc::new(client_config_versions(pki.ca_der(), Some(who), &[version]))
}
