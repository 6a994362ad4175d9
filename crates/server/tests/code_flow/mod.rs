//! What the code-grant tests share: a public and a confidential client,
//! users, codes stored the way `/authorize` stores them, and the token
//! requests of the two grants.

#![allow(dead_code, missing_docs)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use certbound_core::AuthMethod;
use certbound_server::clients::ClientMetadata;
use certbound_server::tokens::token_hash;
use certbound_store::{StoredCode, StoredInteraction, StoredUser};
use certbound_testkit::TestIdentity;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::{Backend, TestServer};

pub const REDIRECT: &str = "http://127.0.0.1:9/cb";
pub const VERIFIER: &str = "a-very-long-verifier-that-is-at-least-43-characters-long";
pub const USER: &str = "user-7f3a";

pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub fn public_client() -> ClientMetadata {
    let mut m = ClientMetadata::new(AuthMethod::None);
    m.grant_types = vec!["authorization_code".into(), "refresh_token".into()];
    m.redirect_uris = vec![REDIRECT.into()];
    m.scope = "read write".into();
    m
}

pub fn confidential_client(dn: &str) -> ClientMetadata {
    let mut m = public_client();
    m.token_endpoint_auth_method = AuthMethod::TlsClientAuth.as_str().into();
    m.tls_client_auth_subject_dn = Some(dn.into());
    m
}

pub async fn add_user(server: &TestServer, user_id: &str) {
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
pub async fn code_for(
    server: &TestServer,
    client_id: &str,
    scope: &str,
    expires_in: i64,
) -> String {
    code_with(server, client_id, scope, expires_in, true).await
}

/// As [`code_for`]; with `redirect_uri_given` false the authorization
/// request left `redirect_uri` out (the client registered only one).
pub async fn code_with(
    server: &TestServer,
    client_id: &str,
    scope: &str,
    expires_in: i64,
    redirect_uri_given: bool,
) -> String {
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
        rejection: None,
    };
    store.create_interaction(&interaction).await.unwrap();
    let stored = StoredCode {
        code_hash: token_hash(&code),
        client_id: client_id.into(),
        user_id: USER.into(),
        redirect_uri: REDIRECT.into(),
        redirect_uri_given,
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

pub fn rand_bytes() -> [u8; 32] {
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

pub async fn redeem(
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

pub async fn refresh(
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

pub fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn text<'a>(body: &'a Value, key: &str) -> &'a str {
    body[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {body}"))
}

/// An introspecting client and its certificate.
pub async fn introspector(server: &TestServer) -> TestIdentity {
    let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
    m.tls_client_auth_subject_dn = Some("CN=rs".into());
    m.may_introspect = true;
    server.register("rs", m, None).await;
    server.pki.simple_client("rs")
}

/// What `/introspect` says about `token` to the introspecting client "rs".
pub async fn introspect(server: &TestServer, rs: &TestIdentity, token: &str) -> Value {
    server.introspect(rs, "rs", token).await
}

/// Asserts that `token` is no longer active at `/introspect`.
pub async fn assert_inactive(server: &TestServer, rs: &TestIdentity, token: &str) {
    let info = introspect(server, rs, token).await;
    assert_eq!(info["active"], false, "{token}: {info}");
}

/// Asserts a 400 `invalid_grant` that says `description`; `context` names
/// the case.
#[track_caller]
pub fn assert_invalid_grant(status: u16, body: &Value, description: &str, context: &str) {
    certbound_testkit::assert_described_error(
        status,
        body,
        (400, "invalid_grant", description),
        context,
    );
}

/// Asserts that "app" refreshing `token` over mTLS with `phone` is refused
/// with a 400; `why` says why it must be.
pub async fn assert_refresh_refused(
    server: &TestServer,
    phone: &TestIdentity,
    token: &str,
    why: &str,
) {
    let (status, body) = refresh(server, Some(phone), "app", token, "").await;
    assert_eq!(status, 400, "{why}: {body}");
}

/// A server with the public client "app", the user, and the app's certificate.
pub async fn app_server(backend: Backend, extra: &str) -> (TestServer, TestIdentity) {
    let server = TestServer::start_with(backend, extra).await;
    server.register("app", public_client(), None).await;
    add_user(&server, USER).await;
    let phone = server.pki.simple_client("phone");
    (server, phone)
}

/// A fresh refresh token of "app", redeemed over mTLS with `phone`.
pub async fn refresh_token_of(server: &TestServer, phone: &TestIdentity) -> String {
    let code = code_for(server, "app", "read offline_access", 60).await;
    let (status, body) = redeem(server, Some(phone), "app", &code, VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    text(&body, "refresh_token").to_owned()
}
