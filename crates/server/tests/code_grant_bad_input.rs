//! The token endpoint's refusals for the two grants of the code flow: each
//! bad request with its exact answer, on SQLite and PostgreSQL, and no row
//! changed (the code still works afterwards).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod code_flow;
mod common;

use certbound_core::AuthMethod;
use certbound_server::clients::ClientMetadata;
use certbound_testkit::assert_described_error;
use code_flow::*;
use common::{Backend, TestServer, on_both_backends};

// ------------------------------------------------------------------ refusals

/// Every bad token request of the two new grants: the exact answer, and no
/// row changed — the code still works afterwards.
async fn bad_token_requests(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.register("app", public_client(), None).await;
    server.register("other-app", public_client(), None).await;
    let mut no_refresh = public_client();
    no_refresh.grant_types = vec!["authorization_code".into()];
    server.register("no-refresh", no_refresh, None).await;
    let mut cc = ClientMetadata::new(AuthMethod::TlsClientAuth);
    cc.tls_client_auth_subject_dn = Some("CN=cc".into());
    server.register("cc", cc, None).await;
    add_user(&server, USER).await;
    let phone = server.pki.simple_client("phone");
    let cc_cert = server.pki.simple_client("cc");
    let code = code_for(&server, "app", "read offline_access", 60).await;
    let expired = code_for(&server, "app", "read", -1).await;
    let other_code = code_for(&server, "other-app", "read", 60).await;
    let redirect = urlencode(REDIRECT);
    let base = format!("grant_type=authorization_code&client_id=app&redirect_uri={redirect}");
    const UNKNOWN_CODE: &str = "the authorization code is invalid, expired or already used";
    // What "app" sends with the phone's certificate, and the exact 400 it
    // gets: the error code and its description.
    let refused: Vec<(String, &str, &str)> = vec![
        (
            format!("{base}&code_verifier={VERIFIER}"),
            "invalid_request",
            "code is required",
        ),
        (
            format!("{base}&code=nope&code_verifier={VERIFIER}"),
            "invalid_grant",
            UNKNOWN_CODE,
        ),
        (
            format!("{base}&code={code}"),
            "invalid_grant",
            "code_verifier is required",
        ),
        (
            format!("{base}&code={code}&code_verifier={}", "b".repeat(43)),
            "invalid_grant",
            "code_verifier does not match the code_challenge",
        ),
        (
            format!("{base}&code={code}&code_verifier=short"),
            "invalid_grant",
            "code_verifier must be 43-128 characters of A-Z a-z 0-9 - . _ ~",
        ),
        (
            format!(
                "grant_type=authorization_code&client_id=app&redirect_uri={}&code={code}&code_verifier={VERIFIER}",
                urlencode("http://127.0.0.1:9/other")
            ),
            "invalid_grant",
            "redirect_uri does not match the one in the authorization request",
        ),
        (
            format!(
                "grant_type=authorization_code&client_id=app&code={code}&code_verifier={VERIFIER}"
            ),
            "invalid_grant",
            "redirect_uri is required: the authorization request included it",
        ),
        (
            format!("{base}&code={expired}&code_verifier={VERIFIER}"),
            "invalid_grant",
            "the authorization code has expired",
        ),
        (
            format!("{base}&code={other_code}&code_verifier={VERIFIER}"),
            "invalid_grant",
            UNKNOWN_CODE,
        ),
        (
            format!("{base}&code={}&code_verifier={VERIFIER}", "x".repeat(600)),
            "invalid_grant",
            UNKNOWN_CODE,
        ),
        (
            "grant_type=refresh_token&client_id=app".into(),
            "invalid_request",
            "refresh_token is required",
        ),
        (
            "grant_type=refresh_token&client_id=app&refresh_token=unknown".into(),
            "invalid_grant",
            "the refresh token is invalid, expired or revoked",
        ),
        (
            "grant_type=refresh_token&client_id=no-refresh&refresh_token=unknown".into(),
            "unauthorized_client",
            "this client may not use the refresh_token grant",
        ),
        (
            "grant_type=implicit&client_id=app".into(),
            "unsupported_grant_type",
            "grant_type 'implicit' is not supported; this server supports authorization_code, refresh_token and client_credentials",
        ),
    ];
    // The client "cc" with its own certificate, and a secret where none belongs.
    let cc_form = format!(
        "grant_type=authorization_code&client_id=cc&redirect_uri={redirect}&code={code}&code_verifier={VERIFIER}"
    );
    let secret_form = format!("{base}&code={code}&code_verifier={VERIFIER}&client_secret=s");
    let others = [
        (
            &cc_form,
            &cc_cert,
            (
                400,
                "unauthorized_client",
                "this client may not use the authorization_code grant",
            ),
        ),
        (
            &secret_form,
            &phone,
            (
                401,
                "invalid_client",
                certbound_server::clients::auth::CLIENT_AUTH_FAILED,
            ),
        ),
    ];
    let cases = refused
        .iter()
        .map(|(form, error, description)| (form, &phone, (400, *error, *description)))
        .chain(others);
    let before = server.row_counts().await;
    for (form, who, expected) in cases {
        let (status, body) = server.post("/token", Some(who), form.as_bytes(), &[]).await;
        assert_described_error(status, &body, expected, form);
    }
    assert_eq!(
        server.row_counts().await,
        before,
        "a refused request changed a row"
    );
    // None of the refusals used up the code.
    let (status, body) = redeem(&server, Some(&phone), "app", &code, VERIFIER).await;
    assert_eq!(status, 200, "{body}");

    // When the authorization request left redirect_uri out (one registered),
    // the token request may too.
    let implied = code_with(&server, "app", "read", 60, false).await;
    let form = format!(
        "grant_type=authorization_code&client_id=app&code={implied}&code_verifier={VERIFIER}"
    );
    let (status, body) = server
        .post("/token", Some(&phone), form.as_bytes(), &[])
        .await;
    assert_eq!(status, 200, "{body}");

    // A disabled user's code is refused.
    let store = &server.running().server.store;
    let mut u = store.user(USER).await.unwrap().unwrap();
    u.disabled = true;
    assert!(store.update_user(&u).await.unwrap());
    let code = code_for(&server, "app", "read", 60).await;
    let (status, body) = redeem(&server, Some(&phone), "app", &code, VERIFIER).await;
    assert_described_error(
        status,
        &body,
        (
            400,
            "invalid_grant",
            "the user's account is disabled or removed",
        ),
        "disabled user",
    );
}
on_both_backends!(
    bad_token_requests_sqlite_postgres,
    super::bad_token_requests
);
