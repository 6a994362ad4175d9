//! Bad input at the token endpoint: each case gets the RFC's error, never a
//! 500, and writes nothing (every table's row count is unchanged).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use certbound_core::AuthMethod;
use certbound_server::clients::{ClientMetadata, TokenFormat};
use common::{Backend, TestServer, on_both_backends};
use serde_json::Value;

async fn matrix(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
    m.tls_client_auth_subject_dn = Some("CN=alice".into());
    m.scope = "read".into();
    // Opaque: a successful request would write a row, so "nothing written" is observable.
    m.access_token_format = TokenFormat::Opaque;
    server.register("alice", m, None).await;
    let mut b = ClientMetadata::new(AuthMethod::TlsClientAuth);
    b.tls_client_auth_subject_dn = Some("CN=bob".into());
    server.register("bob", b, None).await;
    let alice = server.pki.simple_client("alice");
    let sqli = "x'; DROP TABLE clients; --";
    let sqli_body = format!(
        "grant_type=client_credentials&client_id={}",
        sqli.replace(' ', "+")
            .replace('\'', "%27")
            .replace(';', "%3B")
    );
    let big = format!(
        "grant_type=client_credentials&client_id=alice&pad={}",
        "a".repeat(20_000)
    );

    // (what, body, extra headers, status, error)
    type Case<'a> = (&'a str, Vec<u8>, Vec<&'a str>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "missing grant_type",
            b"client_id=alice".to_vec(),
            vec![],
            400,
            "invalid_request",
        ),
        (
            "duplicate grant_type",
            b"grant_type=client_credentials&grant_type=client_credentials&client_id=alice".to_vec(),
            vec![],
            400,
            "invalid_request",
        ),
        (
            "unsupported grant",
            b"grant_type=password&client_id=alice&username=a&password=b".to_vec(),
            vec![],
            400,
            "unsupported_grant_type",
        ),
        (
            "unknown client",
            b"grant_type=client_credentials&client_id=mallory".to_vec(),
            vec![],
            401,
            "invalid_client",
        ),
        (
            "client_id of another client",
            b"grant_type=client_credentials&client_id=bob".to_vec(),
            vec![],
            401,
            "invalid_client",
        ),
        (
            "oversized body",
            big.into_bytes(),
            vec![],
            413,
            "invalid_request",
        ),
        (
            "wrong content type",
            b"{\"grant_type\":\"client_credentials\"}".to_vec(),
            vec!["Content-Type: application/json"],
            400,
            "invalid_request",
        ),
        (
            "no content type",
            b"grant_type=client_credentials&client_id=alice".to_vec(),
            vec!["Content-Type:"],
            400,
            "invalid_request",
        ),
        (
            "invalid scope",
            b"grant_type=client_credentials&client_id=alice&scope=admin".to_vec(),
            vec![],
            400,
            "invalid_scope",
        ),
        (
            "malformed scope",
            b"grant_type=client_credentials&client_id=alice&scope=%22".to_vec(),
            vec![],
            400,
            "invalid_scope",
        ),
        (
            "SQL metacharacters in client_id",
            sqli_body.into_bytes(),
            vec![],
            401,
            "invalid_client",
        ),
        (
            "non-UTF-8 percent-encoded",
            b"grant_type=client_credentials&client_id=%ff%fe".to_vec(),
            vec![],
            400,
            "invalid_request",
        ),
        (
            "non-UTF-8 raw bytes",
            b"grant_type=client_credentials&client_id=\xff\xfe".to_vec(),
            vec![],
            400,
            "invalid_request",
        ),
        (
            "two Authorization headers",
            b"grant_type=client_credentials".to_vec(),
            vec!["Authorization: Basic YTpi", "Authorization: Basic YzpK"],
            400,
            "invalid_request",
        ),
        (
            "malformed Basic",
            b"grant_type=client_credentials".to_vec(),
            vec!["Authorization: Basic !!!"],
            401,
            "invalid_client",
        ),
    ];
    let before = server.row_counts().await;
    for (what, body, headers, status, error) in &cases {
        let url = format!("{}/token", server.url);
        let (got, json) = server.post_to(&url, Some(&alice), body, headers, &[]).await;
        assert_eq!(got, *status, "{what}: {json}");
        assert_eq!(json["error"], *error, "{what}: {json}");
        assert!(
            json["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{what}"
        );
    }
    assert_eq!(
        server.row_counts().await,
        before,
        "refused requests wrote nothing"
    );
    // The SQL-looking client id did not touch the clients table, and a good request still works.
    assert!(!server.token(Some(&alice), "alice").await.is_empty());
}
on_both_backends!(token_endpoint_bad_input_matrix, super::matrix);

/// Input an answer repeats (here a scope) stays inert JSON, no origin may read
/// an answer, and client metadata naming a URL to fetch is refused.
async fn reflected(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
    m.tls_client_auth_subject_dn = Some("CN=alice".into());
    m.scope = "read".into();
    server.register("alice", m, None).await;
    let alice = server.pki.simple_client("alice");
    let url = format!("{}/token", server.url);
    let head = |name: &str| server.dir.path().join(name);
    let read_head = |name: &str| {
        std::fs::read_to_string(head(name))
            .expect("read headers")
            .to_ascii_lowercase()
    };
    let evil = "Origin: https://evil.example";

    let body =
        b"grant_type=client_credentials&client_id=alice&scope=%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    let dump = head("token.txt").display().to_string();
    let (status, json) = server
        .post_to(&url, Some(&alice), body, &[evil], &["-D", &dump])
        .await;
    assert_eq!(
        (status, &json["error"]),
        (400, &Value::from("invalid_scope"))
    );
    assert!(
        json["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("<script>alert(1)</script>")),
        "{json}"
    );
    let preflight = head("options.txt").display().to_string();
    let (status, _) = server
        .post_to(
            &url,
            Some(&alice),
            b"",
            &[evil, "Access-Control-Request-Method: POST"],
            &["-X", "OPTIONS", "-D", &preflight],
        )
        .await;
    assert_eq!(status, 405, "no CORS preflight is answered");
    for (name, want_json) in [("token.txt", true), ("options.txt", false)] {
        let h = read_head(name);
        if want_json {
            assert!(h.contains("\r\ncontent-type: application/json\r\n"), "{h}");
        }
        assert!(h.contains("\r\nx-content-type-options: nosniff\r\n"), "{h}");
        assert!(!h.contains("access-control-allow"), "{h}");
    }

    // A client cannot make the server fetch a URL of its choosing: jwks_uri is
    // not accepted until an SSRF-guarded fetcher exists.
    let refused = serde_json::from_value::<ClientMetadata>(serde_json::json!({
        "token_endpoint_auth_method": "self_signed_tls_client_auth",
        "jwks_uri": "http://169.254.169.254/latest/meta-data/"
    }));
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("unknown field `jwks_uri`")),
        "{refused:?}"
    );
}
on_both_backends!(
    reflected_input_is_inert_json_and_no_origin_may_read_it,
    super::reflected
);
