//! Our JWTs verify with Python's PyJWT against our `/jwks`, fetched by
//! `requests`, for every signing algorithm; a tampered token does not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use certbound_core::AuthMethod;
use certbound_server::clients::ClientMetadata;
use certbound_testkit::require_tool;
use common::{Backend, TestServer};
use serde_json::Value;

async fn pyjwt_verify(server: &TestServer, token: &str) -> (i32, Value, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/verify_jwt.py");
    let out = tokio::process::Command::new(require_tool("python3"))
        .arg(script)
        .args(["--jwks-url", &format!("{}/jwks", server.url)])
        .arg("--cacert")
        .arg(server.pki.ca_path())
        .args(["--issuer", &server.running().issuer, "--token", token])
        .output()
        .await
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_str(&stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyjwt_verifies_every_algorithm() {
    for alg in ["ES256", "PS256", "EdDSA"] {
        let server = TestServer::start_with(
            Backend::Sqlite,
            &format!("[tokens]\nsigning_alg = \"{alg}\"\n"),
        )
        .await;
        let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
        m.tls_client_auth_san_dns = Some("alice.example".into());
        m.scope = "read".into();
        server.register("alice", m, None).await;
        let request = certbound_pki::CertificateRequest {
            common_name: Some("alice".into()),
            dns: vec!["alice.example".into()],
            ..Default::default()
        };
        let alice = server.pki.client("alice", request);
        let token = server.token(Some(&alice), "alice").await;

        let (code, verified, err) = pyjwt_verify(&server, &token).await;
        assert_eq!(code, 0, "{alg}: PyJWT rejected our token: {err}");
        assert_eq!(verified["header"]["typ"], "at+jwt");
        assert_eq!(verified["header"]["alg"], alg);
        let claims = &verified["claims"];
        assert_eq!(
            claims["cnf"]["x5t#S256"],
            Value::from(alice.thumbprint().to_string()),
            "{alg}"
        );
        assert_eq!(claims["client_id"], "alice");
        assert_eq!(claims["scope"], "read");
        for claim in ["iss", "sub", "aud", "exp", "iat", "jti"] {
            assert!(!claims[claim].is_null(), "{alg}: missing {claim}");
        }

        // Flip one character of the payload: PyJWT must refuse it.
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let payload = &mut parts[1];
        let last = payload.pop().unwrap_or('A');
        payload.push(if last == 'A' { 'B' } else { 'A' });
        let (code, _, _) = pyjwt_verify(&server, &parts.join(".")).await;
        assert_ne!(code, 0, "{alg}: a tampered token verified");
    }
}
