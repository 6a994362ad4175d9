//! The token endpoint's side of the authorization code flow: redeeming
//! codes with PKCE, certificate-bound rotating refresh tokens, replays,
//! races, and refresh tokens at `/introspect` and `/revoke`, on SQLite and
//! PostgreSQL. Codes are put in the store the way `/authorize` does
//! (an interaction completed with its code), so these tests do not depend
//! on the pages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use certbound_core::AuthMethod;
use certbound_server::clients::ClientMetadata;
use certbound_server::tokens::token_hash;
use certbound_store::{StoredCode, StoredInteraction, StoredUser};
use certbound_testkit::{TestIdentity, assert_described_error};
use common::{Backend, TestServer, assert_bound, claims};
use serde_json::Value;
use sha2::{Digest, Sha256};

const REDIRECT: &str = "http://127.0.0.1:9/cb";
const VERIFIER: &str = "a-very-long-verifier-that-is-at-least-43-characters-long";
const USER: &str = "user-7f3a";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn public_client() -> ClientMetadata {
    let mut m = ClientMetadata::new(AuthMethod::None);
    m.grant_types = vec!["authorization_code".into(), "refresh_token".into()];
    m.redirect_uris = vec![REDIRECT.into()];
    m.scope = "read write".into();
    m
}

fn confidential_client(dn: &str) -> ClientMetadata {
    let mut m = public_client();
    m.token_endpoint_auth_method = AuthMethod::TlsClientAuth.as_str().into();
    m.tls_client_auth_subject_dn = Some(dn.into());
    m
}

async fn add_user(server: &TestServer, user_id: &str) {
    let store = &server.running().server.store;
    store
        .create_user(&StoredUser {
            user_id: user_id.into(),
            username: format!("name-{user_id}"),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            display_name: None,
            email: None,
            disabled: false,
            created_at: now(),
            updated_at: now(),
        })
        .await
        .unwrap();
}

/// Stores a code as `/authorize` does; returns the code.
async fn code_for(server: &TestServer, client_id: &str, scope: &str, expires_in: i64) -> String {
    let store = &server.running().server.store;
    let code = URL_SAFE_NO_PAD.encode(rand_bytes());
    let handle = URL_SAFE_NO_PAD.encode(rand_bytes());
    let t = now();
    let interaction = StoredInteraction {
        interaction_hash: token_hash(&handle),
        client_id: client_id.into(),
        request: "{}".into(),
        browser_hash: token_hash("browser"),
        csrf_hash: token_hash("csrf"),
        user_id: Some(USER.into()),
        auth_time: Some(t),
        consented_scope: Some(scope.into()),
        created_at: t,
        expires_at: t + 600,
        completed_at: None,
    };
    store.create_interaction(&interaction).await.unwrap();
    let stored = StoredCode {
        code_hash: token_hash(&code),
        client_id: client_id.into(),
        user_id: USER.into(),
        redirect_uri: REDIRECT.into(),
        scope: scope.into(),
        code_challenge: challenge(VERIFIER),
        nonce: None,
        auth_time: t,
        created_at: t,
        expires_at: t + expires_in,
        redeemed_at: None,
        grant_id: None,
    };
    assert!(
        store
            .complete_interaction(&interaction.interaction_hash, t, Some(&stored))
            .await
            .unwrap()
    );
    code
}

fn rand_bytes() -> [u8; 32] {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let mut h = Sha256::new();
    h.update(n.to_be_bytes());
    h.update(std::process::id().to_be_bytes());
    h.update(now().to_be_bytes());
    h.update(format!("{:?}", std::time::Instant::now()).as_bytes());
    h.finalize().into()
}

async fn redeem(
    server: &TestServer,
    who: Option<&TestIdentity>,
    client_id: &str,
    code: &str,
    verifier: &str,
) -> (u16, Value) {
    let form = format!(
        "grant_type=authorization_code&client_id={client_id}&code={code}&code_verifier={verifier}&redirect_uri={}",
        urlencode(REDIRECT)
    );
    server.post("/token", who, form.as_bytes(), &[]).await
}

async fn refresh(
    server: &TestServer,
    who: Option<&TestIdentity>,
    client_id: &str,
    token: &str,
    extra: &str,
) -> (u16, Value) {
    let form =
        format!("grant_type=refresh_token&client_id={client_id}&refresh_token={token}{extra}");
    server.post("/token", who, form.as_bytes(), &[]).await
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn text<'a>(body: &'a Value, key: &str) -> &'a str {
    body[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {body}"))
}

/// An introspecting client and its certificate.
async fn introspector(server: &TestServer) -> TestIdentity {
    let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
    m.tls_client_auth_subject_dn = Some("CN=rs".into());
    m.may_introspect = true;
    server.register("rs", m, None).await;
    server.pki.simple_client("rs")
}

async fn introspect(server: &TestServer, rs: &TestIdentity, token: &str) -> Value {
    let form = format!("client_id=rs&token={token}");
    let (status, body) = server
        .post("/introspect", Some(rs), form.as_bytes(), &[])
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A server with the public client "app", the user, and the app's certificate.
async fn app_server(backend: Backend, extra: &str) -> (TestServer, TestIdentity) {
    let server = TestServer::start_with(backend, extra).await;
    server.register("app", public_client(), None).await;
    add_user(&server, USER).await;
    let phone = server.pki.simple_client("phone");
    (server, phone)
}

/// A fresh refresh token of "app", redeemed over mTLS with `phone`.
async fn refresh_token_of(server: &TestServer, phone: &TestIdentity) -> String {
    let code = code_for(server, "app", "read offline_access", 60).await;
    let (status, body) = redeem(server, Some(phone), "app", &code, VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    text(&body, "refresh_token").to_owned()
}

// ------------------------------------------------------------------ flows

async fn public_client_flow(backend: Backend) {
    let (server, phone) = app_server(backend, "").await;
    let rs = introspector(&server).await;
    let thief = server.pki.simple_client("thief");

    let code = code_for(&server, "app", "read offline_access", 60).await;
    let (status, body) = redeem(&server, Some(&phone), "app", &code, VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    let access = text(&body, "access_token");
    let refresh_token = text(&body, "refresh_token").to_owned();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "read offline_access");
    // RFC 9068: the user is the subject; the token is bound to the phone.
    assert_eq!(claims(access)["sub"], USER);
    assert_eq!(claims(access)["client_id"], "app");
    assert_bound(access, &phone);
    // RFC 8705 §4: so is the refresh token.
    let seen = introspect(&server, &rs, &refresh_token).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["token_type"], "refresh_token");
    assert_eq!(seen["sub"], USER);
    assert_eq!(seen["cnf"]["x5t#S256"], phone.thumbprint().to_string());

    // A public client proves nothing but its id: it may not introspect
    // (not even its own token) nor read the revocation list.
    for path in ["/introspect", "/revocations"] {
        let form = format!("client_id=app&token={refresh_token}");
        let (status, body) = server.post(path, Some(&phone), form.as_bytes(), &[]).await;
        assert_described_error(
            status,
            &body,
            (
                401,
                "invalid_client",
                certbound_server::clients::auth::PUBLIC_CLIENT_REFUSED,
            ),
            path,
        );
    }

    // Another certificate, or none, cannot use it; nothing changes.
    let before = server.row_counts().await;
    for who in [Some(&thief), None] {
        let (status, body) = refresh(&server, who, "app", &refresh_token, "").await;
        assert_described_error(
            status,
            &body,
            (
                400,
                "invalid_grant",
                "this refresh token is bound to a client certificate: refresh over mTLS with the certificate it was issued to",
            ),
            "wrong certificate",
        );
    }
    assert_eq!(server.row_counts().await, before);

    // The phone refreshes: a new pair, rotated, narrowed on request.
    let (status, body) = refresh(&server, Some(&phone), "app", &refresh_token, "&scope=read").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "read");
    let second = text(&body, "refresh_token").to_owned();
    assert_ne!(second, refresh_token);
    assert_bound(text(&body, "access_token"), &phone);
    assert_eq!(
        introspect(&server, &rs, &refresh_token).await["active"],
        false
    );
    assert_eq!(introspect(&server, &rs, &second).await["active"], true);

    // Widening is refused.
    let (status, body) =
        refresh(&server, Some(&phone), "app", &second, "&scope=read%20write").await;
    assert_described_error(
        status,
        &body,
        (
            400,
            "invalid_scope",
            "scope 'write' is not part of the original grant",
        ),
        "widening",
    );

    // Revoking the refresh token revokes the grant and its access tokens.
    let form = format!("client_id=app&token={second}");
    let (status, _) = server
        .post("/revoke", Some(&phone), form.as_bytes(), &[])
        .await;
    assert_eq!(status, 200);
    assert_eq!(introspect(&server, &rs, &second).await["active"], false);
    assert_eq!(introspect(&server, &rs, access).await["active"], false);
    let (status, body) = refresh(&server, Some(&phone), "app", &second, "").await;
    assert_described_error(
        status,
        &body,
        (
            400,
            "invalid_grant",
            "the refresh token is invalid, expired or revoked",
        ),
        "after revocation",
    );
}
on_both_backends!(
    public_client_flow_sqlite_postgres,
    super::public_client_flow
);

async fn code_replay_revokes_what_it_issued(backend: Backend) {
    let (server, phone) = app_server(backend, "").await;
    let rs = introspector(&server).await;
    let code = code_for(&server, "app", "read offline_access", 60).await;
    let (status, first) = redeem(&server, Some(&phone), "app", &code, VERIFIER).await;
    assert_eq!(status, 200, "{first}");
    let (status, body) = redeem(&server, Some(&phone), "app", &code, VERIFIER).await;
    assert_described_error(
        status,
        &body,
        (
            400,
            "invalid_grant",
            "the authorization code was already used; the tokens issued for it are revoked",
        ),
        "replay",
    );
    assert_eq!(
        introspect(&server, &rs, text(&first, "access_token")).await["active"],
        false
    );
    assert_eq!(
        introspect(&server, &rs, text(&first, "refresh_token")).await["active"],
        false
    );
}
on_both_backends!(
    code_replay_sqlite_postgres,
    super::code_replay_revokes_what_it_issued
);

async fn confidential_refresh_is_not_rotated(backend: Backend) {
    let server = TestServer::start(backend).await;
    server
        .register("bank-app", confidential_client("CN=bank-app"), None)
        .await;
    server
        .register("other", confidential_client("CN=other"), None)
        .await;
    add_user(&server, USER).await;
    let me = server.pki.simple_client("bank-app");
    let other = server.pki.simple_client("other");
    let code = code_for(&server, "bank-app", "read offline_access", 60).await;
    let (status, body) = redeem(&server, Some(&me), "bank-app", &code, VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    let rt = text(&body, "refresh_token").to_owned();
    for _ in 0..2 {
        let (status, body) = refresh(&server, Some(&me), "bank-app", &rt, "").await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("refresh_token").is_none(), "{body}");
        assert_bound(text(&body, "access_token"), &me);
    }
    // Only the client it was issued to may use it.
    let (status, body) = refresh(&server, Some(&other), "other", &rt, "").await;
    assert_described_error(
        status,
        &body,
        (
            400,
            "invalid_grant",
            "the refresh token is invalid, expired or revoked",
        ),
        "another client",
    );
    // Without offline_access (and without always_issue_refresh_token): none.
    let code = code_for(&server, "bank-app", "read", 60).await;
    let (status, body) = redeem(&server, Some(&me), "bank-app", &code, VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
}
on_both_backends!(
    confidential_refresh_sqlite_postgres,
    super::confidential_refresh_is_not_rotated
);

async fn lost_response_grace_window(backend: Backend) {
    let (server, phone) = app_server(backend, "[refresh_tokens]\ngrace_seconds = 60\n").await;
    let rt = refresh_token_of(&server, &phone).await;
    let (status, first) = refresh(&server, Some(&phone), "app", &rt, "").await;
    assert_eq!(status, 200, "{first}");
    // The response was lost; the app repeats the request and gets it again.
    let (status, again) = refresh(&server, Some(&phone), "app", &rt, "").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, first);
    // Once the successor is used, a repeat of the old token is a replay.
    let successor = text(&first, "refresh_token").to_owned();
    let (status, third) = refresh(&server, Some(&phone), "app", &successor, "").await;
    assert_eq!(status, 200, "{third}");
    let (status, body) = refresh(&server, Some(&phone), "app", &rt, "").await;
    assert_described_error(
        status,
        &body,
        (
            400,
            "invalid_grant",
            "this refresh token was already used; every token of its grant is now revoked",
        ),
        "replay after the successor was used",
    );
    let (status, _) = refresh(
        &server,
        Some(&phone),
        "app",
        text(&third, "refresh_token"),
        "",
    )
    .await;
    assert_eq!(status, 400, "the whole family is revoked");
}
on_both_backends!(
    grace_window_sqlite_postgres,
    super::lost_response_grace_window
);

async fn reuse_without_grace_revokes_the_family(backend: Backend) {
    let (server, phone) = app_server(backend, "[refresh_tokens]\ngrace_seconds = 0\n").await;
    let rt = refresh_token_of(&server, &phone).await;
    let (_, first) = refresh(&server, Some(&phone), "app", &rt, "").await;
    let (status, body) = refresh(&server, Some(&phone), "app", &rt, "").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, _) = refresh(
        &server,
        Some(&phone),
        "app",
        text(&first, "refresh_token"),
        "",
    )
    .await;
    assert_eq!(status, 400, "the successor died with the family");
}
on_both_backends!(
    reuse_sqlite_postgres,
    super::reuse_without_grace_revokes_the_family
);

// ------------------------------------------------------------------ races

async fn twenty_redemptions_one_winner(backend: Backend) {
    let (server, phone) = app_server(backend, "[refresh_tokens]\ngrace_seconds = 0\n").await;
    let code = code_for(&server, "app", "read offline_access", 60).await;
    let attempts = (0..20).map(|_| redeem(&server, Some(&phone), "app", &code, VERIFIER));
    let results = futures_util::future::join_all(attempts).await;
    let winners: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for (status, body) in results.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(
            (*status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{body}"
        );
    }

    // The losers were replays: what the winner got is revoked with its grant.
    let (status, _) = refresh(
        &server,
        Some(&phone),
        "app",
        text(winners[0], "refresh_token"),
        "",
    )
    .await;
    assert_eq!(status, 400);

    let rt = refresh_token_of(&server, &phone).await;
    let attempts = (0..20).map(|_| refresh(&server, Some(&phone), "app", &rt, ""));
    let results = futures_util::future::join_all(attempts).await;
    let winners = results.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(winners, 1, "{results:?}");
    for (status, body) in results.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(
            (*status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{body}"
        );
    }
}
on_both_backends!(races_sqlite_postgres, super::twenty_redemptions_one_winner);

// ------------------------------------------------------------------ refusals

/// A form, the certificate it is sent with, and the exact refusal.
type Case<'a> = (
    String,
    Option<&'a TestIdentity>,
    (u16, &'static str, String),
);

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
    let cases: Vec<Case> = vec![
        (
            format!("{base}&code_verifier={VERIFIER}"),
            Some(&phone),
            (400, "invalid_request", "code is required".into()),
        ),
        (
            format!("{base}&code=nope&code_verifier={VERIFIER}"),
            Some(&phone),
            (400, "invalid_grant", "the authorization code is invalid, expired or already used".into()),
        ),
        (
            format!("{base}&code={code}"),
            Some(&phone),
            (400, "invalid_grant", "code_verifier is required".into()),
        ),
        (
            format!("{base}&code={code}&code_verifier={}", "b".repeat(43)),
            Some(&phone),
            (400, "invalid_grant", "code_verifier does not match the code_challenge".into()),
        ),
        (
            format!("{base}&code={code}&code_verifier=short"),
            Some(&phone),
            (400, "invalid_grant", "code_verifier must be 43-128 characters of A-Z a-z 0-9 - . _ ~".into()),
        ),
        (
            format!(
                "grant_type=authorization_code&client_id=app&redirect_uri={}&code={code}&code_verifier={VERIFIER}",
                urlencode("http://127.0.0.1:9/other")
            ),
            Some(&phone),
            (400, "invalid_grant", "redirect_uri does not match the one in the authorization request".into()),
        ),
        (
            format!("{base}&code={expired}&code_verifier={VERIFIER}"),
            Some(&phone),
            (400, "invalid_grant", "the authorization code has expired".into()),
        ),
        (
            format!("{base}&code={other_code}&code_verifier={VERIFIER}"),
            Some(&phone),
            (400, "invalid_grant", "the authorization code is invalid, expired or already used".into()),
        ),
        (
            format!("{base}&code={}&code_verifier={VERIFIER}", "x".repeat(600)),
            Some(&phone),
            (400, "invalid_grant", "the authorization code is invalid, expired or already used".into()),
        ),
        (
            format!(
                "grant_type=authorization_code&client_id=cc&redirect_uri={redirect}&code={code}&code_verifier={VERIFIER}"
            ),
            Some(&cc_cert),
            (400, "unauthorized_client", "this client may not use the authorization_code grant".into()),
        ),
        (
            "grant_type=refresh_token&client_id=app".into(),
            Some(&phone),
            (400, "invalid_request", "refresh_token is required".into()),
        ),
        (
            "grant_type=refresh_token&client_id=app&refresh_token=unknown".into(),
            Some(&phone),
            (400, "invalid_grant", "the refresh token is invalid, expired or revoked".into()),
        ),
        (
            "grant_type=refresh_token&client_id=no-refresh&refresh_token=unknown".into(),
            Some(&phone),
            (400, "unauthorized_client", "this client may not use the refresh_token grant".into()),
        ),
        (
            "grant_type=implicit&client_id=app".into(),
            Some(&phone),
            (
                400,
                "unsupported_grant_type",
                "grant_type 'implicit' is not supported; this server supports authorization_code, refresh_token and client_credentials".into(),
            ),
        ),
        (
            format!("{base}&code={code}&code_verifier={VERIFIER}&client_secret=s"),
            Some(&phone),
            (
                401,
                "invalid_client",
                certbound_server::clients::auth::CLIENT_AUTH_FAILED.into(),
            ),
        ),
    ];
    let before = server.row_counts().await;
    for (form, who, (status_want, error, description)) in &cases {
        let (status, body) = server.post("/token", *who, form.as_bytes(), &[]).await;
        assert_described_error(status, &body, (*status_want, error, description), form);
    }
    assert_eq!(
        server.row_counts().await,
        before,
        "a refused request changed a row"
    );
    // None of the refusals used up the code.
    let (status, body) = redeem(&server, Some(&phone), "app", &code, VERIFIER).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_lists_the_new_grants_and_public_clients() {
    let server = TestServer::start(Backend::Sqlite).await;
    let doc = server.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(
        doc["grant_types_supported"],
        serde_json::json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    let token_methods = doc["token_endpoint_auth_methods_supported"].to_string();
    assert!(token_methods.contains("\"none\""), "{doc}");
    let introspection = doc["introspection_endpoint_auth_methods_supported"].to_string();
    assert!(!introspection.contains("\"none\""), "{doc}");
}
