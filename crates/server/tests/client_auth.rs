//! RFC 8705 §2 client authentication end to end: every `tls_client_auth`
//! matcher and `self_signed_tls_client_auth`, matching and not, on SQLite
//! and PostgreSQL, with curl as the client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use certbound_core::AuthMethod;
use certbound_pki::CertificateRequest;
use certbound_server::clients::ClientMetadata;
use certbound_testkit::{TestIdentity, TestPki};
use certbound_testkit::{assert_described_error, assert_error};
use common::{Backend, TestServer, audited, claims, on_both_backends, openssl_thumbprint};

/// The one description every client-dependent authentication failure gets.
const FAILED: &str = "client authentication failed: check the client_id, the authentication method it is registered for, and its secret or certificate (certificate methods must use the mTLS endpoint, mtls_endpoint_aliases in the server metadata)";
use serde_json::Value;

fn req(cn: &str, f: impl FnOnce(&mut CertificateRequest)) -> CertificateRequest {
    let mut r = CertificateRequest {
        common_name: Some(cn.into()),
        organization: Some("Bank".into()),
        ..CertificateRequest::default()
    };
    f(&mut r);
    r
}

fn expired(r: &mut CertificateRequest) {
    let now = time::OffsetDateTime::now_utc();
    r.validity = Some((
        now - time::Duration::days(10),
        now - time::Duration::days(1),
    ));
}

struct Case {
    id: &'static str,
    set: fn(&mut ClientMetadata),
    good: fn(&mut CertificateRequest),
    bad: fn(&mut CertificateRequest),
}

const CASES: &[Case] = &[
    Case {
        id: "by-dn",
        set: |m| m.tls_client_auth_subject_dn = Some("cn=client a, o=bank".into()),
        good: |_| {},
        bad: |r| r.common_name = Some("Client B".into()),
    },
    Case {
        id: "by-dns",
        set: |m| m.tls_client_auth_san_dns = Some("a.example".into()),
        good: |r| r.dns = vec!["A.example".into()],
        bad: |r| r.dns = vec!["b.example".into()],
    },
    Case {
        id: "by-uri",
        set: |m| m.tls_client_auth_san_uri = Some("spiffe://bank/a".into()),
        good: |r| r.uri = vec!["spiffe://bank/a".into()],
        bad: |r| r.uri = vec!["spiffe://bank/b".into()],
    },
    Case {
        id: "by-ip",
        set: |m| m.tls_client_auth_san_ip = Some("10.0.0.7".into()),
        good: |r| r.ip = vec![std::net::IpAddr::from([10, 0, 0, 7])],
        bad: |r| r.ip = vec![std::net::IpAddr::from([10, 0, 0, 8])],
    },
    Case {
        id: "by-email",
        set: |m| m.tls_client_auth_san_email = Some("a@bank.example".into()),
        good: |r| r.email = vec!["a@bank.example".into()],
        bad: |r| r.email = vec!["b@bank.example".into()],
    },
];

async fn expect_invalid_client(
    server: &TestServer,
    id: &str,
    who: Option<&TestIdentity>,
    what: &str,
    reason: &str,
) {
    let before = server.row_counts().await;
    let (status, body) = server.token_request(who, id).await;
    assert_eq!(status, 401, "{id} {what}: {body}");
    assert_eq!(body["error"], "invalid_client", "{id} {what}");
    assert_eq!(body["error_description"], FAILED, "{id} {what}");
    // The detail is in the audit log, for this very certificate.
    let thumbprint = who.map(|w| w.thumbprint().to_string()).unwrap_or_default();
    assert!(
        audited(id, &["client_authentication_failed", reason, &thumbprint]),
        "{id} {what}: no audit line with '{reason}'"
    );
    assert_eq!(
        server.row_counts().await,
        before,
        "{id} {what}: a refused request wrote nothing"
    );
}

async fn expect_bound_token(server: &TestServer, id: &str, who: &TestIdentity) {
    let token = server.token(Some(who), id).await;
    let c = claims(&token);
    assert_eq!(
        c["cnf"]["x5t#S256"],
        Value::from(openssl_thumbprint(&who.cert_path)),
        "{id}"
    );
    assert_eq!(c["client_id"], id);
    assert_eq!(c["sub"], id);
}

async fn tls_client_auth_matchers(backend: Backend) {
    let server = TestServer::start(backend).await;
    let foreign = TestPki::new();
    for case in CASES {
        let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
        (case.set)(&mut m);
        server.register(case.id, m, None).await;
        let good = server
            .pki
            .client(&format!("{}-good", case.id), req("Client A", case.good));
        expect_bound_token(&server, case.id, &good).await;

        let bad = server
            .pki
            .client(&format!("{}-bad", case.id), req("Client A", case.bad));
        expect_invalid_client(
            &server,
            case.id,
            Some(&bad),
            "non-matching certificate",
            "certificate does not match registered tls_client_auth_",
        )
        .await;
        let untrusted = foreign.client(&format!("{}-foreign", case.id), req("Client A", case.good));
        expect_invalid_client(
            &server,
            case.id,
            Some(&untrusted),
            "untrusted CA",
            "certificate chain not trusted: ",
        )
        .await;
        let old = server.pki.client(
            &format!("{}-old", case.id),
            req("Client A", |r| {
                (case.good)(r);
                expired(r);
            }),
        );
        expect_invalid_client(
            &server,
            case.id,
            Some(&old),
            "expired certificate",
            "certificate expired or not yet valid",
        )
        .await;
        expect_invalid_client(
            &server,
            case.id,
            None,
            "no certificate",
            "no client certificate presented",
        )
        .await;
    }
}
on_both_backends!(
    tls_client_auth_every_matcher,
    super::tls_client_auth_matchers
);

async fn self_signed(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mine = server.pki.self_signed("mine", req("Self", |_| {}));
    let other = server.pki.self_signed("other", req("Self", |_| {}));
    let mut m = ClientMetadata::new(AuthMethod::SelfSignedTlsClientAuth);
    m.jwks = Some(ClientMetadata::jwks_from_certificates(
        std::slice::from_ref(&mine.issued.cert_der),
    ));
    server.register("selfie", m, None).await;
    expect_bound_token(&server, "selfie", &mine).await;
    expect_invalid_client(
        &server,
        "selfie",
        Some(&other),
        "another self-signed key",
        "certificate is not one registered in the client's jwks",
    )
    .await;
    expect_invalid_client(
        &server,
        "selfie",
        None,
        "no certificate",
        "no client certificate presented",
    )
    .await;
    // A CA-signed certificate is not the registered one either.
    let ca_signed = server.pki.simple_client("ca-signed");
    expect_invalid_client(
        &server,
        "selfie",
        Some(&ca_signed),
        "CA-signed certificate",
        "certificate is not one registered in the client's jwks",
    )
    .await;
}
on_both_backends!(self_signed_tls_client_auth, super::self_signed);

/// Registers `id` with `method` and the secret `s3cret`.
async fn secret_client(server: &TestServer, id: &str, method: AuthMethod) {
    server
        .register(id, ClientMetadata::new(method), Some("s3cret"))
        .await;
}

/// Asserts a 200 whose access token is bound to no certificate.
fn assert_unbound(status: u16, body: &Value) {
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap_or_default();
    assert_eq!(claims(token)["cnf"], Value::Null, "{body}");
}

async fn secrets_and_binding(backend: Backend) {
    let server = TestServer::start(backend).await;
    secret_client(&server, "basic", AuthMethod::ClientSecretBasic).await;
    secret_client(&server, "post", AuthMethod::ClientSecretPost).await;
    let mut strict = ClientMetadata::new(AuthMethod::ClientSecretPost);
    strict.require_certificate_bound_access_tokens = true;
    server.register("strict", strict, Some("s3cret")).await;
    let mut unbound = ClientMetadata::new(AuthMethod::ClientSecretPost);
    unbound.tls_client_certificate_bound_access_tokens = false;
    server.register("unbound", unbound, Some("s3cret")).await;
    let cert = server.pki.simple_client("any");
    let basic = "Authorization: Basic YmFzaWM6czNjcmV0"; // basic:s3cret

    // Secret + certificate: bound to the certificate (RFC 8705 §3).
    let (status, body) = server
        .post(
            "/token",
            Some(&cert),
            b"grant_type=client_credentials",
            &[basic],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap_or_default();
    common::assert_bound(token, &cert);
    // Secret without certificate: unbound.
    let (status, body) = server
        .post(
            "/token",
            None,
            b"grant_type=client_credentials&client_id=post&client_secret=s3cret",
            &[],
        )
        .await;
    assert_unbound(status, &body);
    // Client that opted out of binding stays unbound even with a certificate.
    let (status, body) = server
        .post(
            "/token",
            Some(&cert),
            b"grant_type=client_credentials&client_id=unbound&client_secret=s3cret",
            &[],
        )
        .await;
    assert_unbound(status, &body);
    // Client requiring binding refuses requests without a certificate.
    let before = server.row_counts().await;
    let (status, body) = server
        .post(
            "/token",
            None,
            b"grant_type=client_credentials&client_id=strict&client_secret=s3cret",
            &[],
        )
        .await;
    assert_error(status, &body, (400, "invalid_request"));
    assert_eq!(server.row_counts().await, before);

    // Wrong secret; Basic gets a challenge.
    let (status, body) = server
        .post(
            "/token",
            None,
            b"grant_type=client_credentials",
            &["Authorization: Basic YmFzaWM6d3Jvbmc="],
        )
        .await;
    assert_described_error(status, &body, (401, "invalid_client", FAILED), "");
    assert!(audited(
        "basic",
        &["client_authentication_failed", "wrong secret"]
    ));
    // Method mismatch: a basic client using post.
    let (status, body) = server
        .post(
            "/token",
            None,
            b"grant_type=client_credentials&client_id=basic&client_secret=s3cret",
            &[],
        )
        .await;
    assert_described_error(status, &body, (401, "invalid_client", FAILED), "");
    assert!(audited(
        "basic",
        &[
            "wrong authentication method: registered for client_secret_basic, presented client_secret_post"
        ]
    ));
    // Both Basic and a body secret.
    let (status, body) = server
        .post(
            "/token",
            None,
            b"grant_type=client_credentials&client_secret=s3cret",
            &[basic],
        )
        .await;
    assert_error(status, &body, (400, "invalid_request"));
}
on_both_backends!(client_secrets_and_binding_rules, super::secrets_and_binding);

/// The whole response (status line, headers, body) without its `date`.
async fn raw_token_response(server: &TestServer, body: &str, headers: &[&str]) -> String {
    let (_, raw) = server
        .post_to(
            &format!("{}/token", server.url),
            None,
            body.as_bytes(),
            headers,
            &["-i", "--http1.1"],
        )
        .await;
    let raw = raw.as_str().unwrap_or_default().to_owned();
    assert!(raw.contains("invalid_client"), "{raw}");
    raw.lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("date:"))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn identical_failures(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
    m.tls_client_auth_subject_dn = Some("CN=Known,O=Bank".into());
    server.register("known", m, None).await;
    secret_client(&server, "secret", AuthMethod::ClientSecretPost).await;
    let cases = [
        // A certificate client tried with a secret vs a client that does not exist.
        "grant_type=client_credentials&client_id=known&client_secret=guess",
        "grant_type=client_credentials&client_id=nobody-at-all&client_secret=guess",
        // A certificate client without a certificate.
        "grant_type=client_credentials&client_id=known",
        "grant_type=client_credentials&client_id=nobody-at-all",
        // A secret client with the wrong secret.
        "grant_type=client_credentials&client_id=secret&client_secret=guess",
    ];
    let mut answers = Vec::new();
    for body in cases {
        answers.push(raw_token_response(&server, body, &[]).await);
    }
    // HTTP Basic (which adds a challenge): known client with the wrong method
    // (a post client) and an unknown one.
    let basic = [
        "Authorization: Basic c2VjcmV0OnMzY3JldA==", // secret:s3cret
        "Authorization: Basic bm9ib2R5OnMzY3JldA==", // nobody:s3cret
        "Authorization: Basic a25vd246czNjcmV0",     // known:s3cret
    ];
    let mut basic_answers = Vec::new();
    for header in basic {
        basic_answers
            .push(raw_token_response(&server, "grant_type=client_credentials", &[header]).await);
    }
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer, &answers[0], "case {i}: {}", cases[i]);
    }
    assert!(answers[0].contains(FAILED), "{}", answers[0]);
    for answer in &basic_answers {
        assert_eq!(answer, &basic_answers[0]);
    }
    assert!(basic_answers[0].contains(FAILED), "{}", basic_answers[0]);
    assert!(
        basic_answers[0]
            .to_ascii_lowercase()
            .contains("www-authenticate: basic"),
        "{}",
        basic_answers[0]
    );
    assert!(audited("nobody-at-all", &["unknown client"]));
    assert!(audited(
        "known",
        &["registered for tls_client_auth, presented client_secret_post"]
    ));
    assert!(audited(
        "secret",
        &["registered for client_secret_post, presented client_secret_basic"]
    ));
}
on_both_backends!(
    unknown_and_misused_clients_get_identical_answers,
    super::identical_failures
);

async fn key_usage(backend: Backend) {
    use certbound_pki::{ExtendedKeyUsagePurpose as Eku, KeyUsagePurpose as Ku};
    let server = TestServer::start(backend).await;
    let leaf = |name: &str, ku: Option<Vec<Ku>>, eku: Option<Vec<Eku>>| {
        server.pki.client(
            name,
            req("Client A", |r| {
                r.key_usages = ku;
                r.extended_key_usages = eku;
            }),
        )
    };
    let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
    m.tls_client_auth_subject_dn = Some("CN=Client A,O=Bank".into());
    server.register("ku", m, None).await;

    // A CA-issued leaf whose key may only sign certificates (or only encipher)
    // is refused over a real mTLS handshake (RFC 5280 §4.2.1.3).
    for (name, usages) in [
        ("cert-sign-only", vec![Ku::KeyCertSign]),
        ("encipher-only", vec![Ku::KeyAgreement, Ku::KeyEncipherment]),
    ] {
        let cert = leaf(name, Some(usages), None);
        expect_invalid_client(
            &server,
            "ku",
            Some(&cert),
            name,
            "keyUsage does not include digitalSignature",
        )
        .await;
    }
    // extendedKeyUsage without clientAuth is refused too.
    let server_only = leaf("server-only", None, Some(vec![Eku::ServerAuth]));
    expect_invalid_client(
        &server,
        "ku",
        Some(&server_only),
        "serverAuth only",
        "certificate chain not trusted: ",
    )
    .await;
    // No keyUsage and no extendedKeyUsage at all is allowed (RFC 5280), as
    // is digitalSignature with other bits.
    let bare = leaf("bare", Some(Vec::new()), Some(Vec::new()));
    expect_bound_token(&server, "ku", &bare).await;
    let signs = leaf(
        "signs",
        Some(vec![Ku::DigitalSignature, Ku::KeyCertSign]),
        Some(vec![Eku::ClientAuth, Eku::ServerAuth]),
    );
    expect_bound_token(&server, "ku", &signs).await;
}
on_both_backends!(
    a_leaf_that_may_not_sign_does_not_authenticate,
    super::key_usage
);
