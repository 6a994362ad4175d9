//! The token endpoint's side of the authorization code flow: redeeming
//! codes with PKCE, certificate-bound rotating refresh tokens, replays,
//! races, and refresh tokens at `/introspect` and `/revoke`, on SQLite and
//! PostgreSQL. Codes are put in the store the way `/authorize` does
//! (an interaction completed with its code), so these tests do not depend
//! on the pages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod code_flow;

use certbound_testkit::{assert_described_error, assert_error};
use code_flow::*;
use common::{Backend, TestServer, assert_bound, claims, on_both_backends};
use serde_json::Value;

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
        assert_invalid_grant(
            status,
            &body,
            "this refresh token is bound to a client certificate: refresh over mTLS with the certificate it was issued to",
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
    assert_inactive(&server, &rs, &refresh_token).await;
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
    assert_inactive(&server, &rs, &second).await;
    assert_inactive(&server, &rs, access).await;
    let (status, body) = refresh(&server, Some(&phone), "app", &second, "").await;
    assert_invalid_grant(
        status,
        &body,
        "the refresh token is invalid, expired or revoked",
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
    assert_invalid_grant(
        status,
        &body,
        "the authorization code was already used; the tokens issued for it are revoked",
        "replay",
    );
    assert_inactive(&server, &rs, text(&first, "access_token")).await;
    assert_inactive(&server, &rs, text(&first, "refresh_token")).await;
}
on_both_backends!(
    code_replay_sqlite_postgres,
    super::code_replay_revokes_what_it_issued
);

async fn confidential_refresh_is_not_rotated(backend: Backend) {
    let server = TestServer::start(backend).await;
    let [me, other] = server
        .register_each([
            ("bank-app", confidential_client("CN=bank-app")),
            ("other", confidential_client("CN=other")),
        ])
        .await;
    add_user(&server, USER).await;
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
    assert_invalid_grant(
        status,
        &body,
        "the refresh token is invalid, expired or revoked",
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
    assert_invalid_grant(
        status,
        &body,
        "this refresh token was already used; every token of its grant is now revoked",
        "replay after the successor was used",
    );
    assert_refresh_refused(
        &server,
        &phone,
        text(&third, "refresh_token"),
        "the whole family is revoked",
    )
    .await;
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
    assert_error(status, &body, (400, "invalid_grant"));
    assert_refresh_refused(
        &server,
        &phone,
        text(&first, "refresh_token"),
        "the successor died with the family",
    )
    .await;
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
        assert_error(*status, body, (400, "invalid_grant"));
    }

    // The losers were replays: what the winner got is revoked with its grant.
    assert_refresh_refused(
        &server,
        &phone,
        text(winners[0], "refresh_token"),
        "the winner's grant is revoked",
    )
    .await;

    let rt = refresh_token_of(&server, &phone).await;
    let attempts = (0..20).map(|_| refresh(&server, Some(&phone), "app", &rt, ""));
    let results = futures_util::future::join_all(attempts).await;
    let winners = results.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(winners, 1, "{results:?}");
    for (status, body) in results.iter().filter(|(s, _)| *s != 200) {
        assert_error(*status, body, (400, "invalid_grant"));
    }
}
on_both_backends!(races_sqlite_postgres, super::twenty_redemptions_one_winner);

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_clients_without_a_certificate_get_no_refresh_token() {
    // By default: the access token alone, since nothing could bind a refresh token.
    let (server, _) = app_server(Backend::Sqlite, "").await;
    let code = code_for(&server, "app", "read offline_access", 60).await;
    let (status, body) = redeem(&server, None, "app", &code, VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(claims(text(&body, "access_token")).get("cnf").is_none());

    // Opted out: an unbound refresh token, usable without a certificate.
    let (server, _) = app_server(
        Backend::Sqlite,
        "[refresh_tokens]\nbind_public_clients = false\n",
    )
    .await;
    let code = code_for(&server, "app", "read offline_access", 60).await;
    let (status, body) = redeem(&server, None, "app", &code, VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = refresh(&server, None, "app", text(&body, "refresh_token"), "").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refresh_token").is_some(), "rotated: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_users_refresh_tokens_stop_working() {
    let (server, phone) = app_server(Backend::Sqlite, "").await;
    let rs = introspector(&server).await;
    let rt = refresh_token_of(&server, &phone).await;
    let (status, first) = refresh(&server, Some(&phone), "app", &rt, "").await;
    assert_eq!(status, 200, "{first}");
    let successor = text(&first, "refresh_token").to_owned();
    assert_eq!(introspect(&server, &rs, &successor).await["active"], true);

    let store = &server.running().server.store;
    let mut user = store.user(USER).await.unwrap().unwrap();
    user.disabled = true;
    assert!(store.update_user(&user).await.unwrap());
    assert_inactive(&server, &rs, &successor).await;
    // Neither the live token nor the rotated one (whose grace response is
    // still stored) gets anything.
    for token in [&successor, &rt] {
        let (status, body) = refresh(&server, Some(&phone), "app", token, "").await;
        assert_invalid_grant(
            status,
            &body,
            "the user's account is disabled or removed",
            token,
        );
    }
}
