//! Introspection (RFC 7662) with `cnf`, revocation (RFC 7009), opaque
//! tokens, and key rotation, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use certbound_core::AuthMethod;
use certbound_server::clients::{ClientMetadata, TokenFormat};
use certbound_testkit::assert_error;
use common::{Backend, TestServer, claims, header, on_both_backends};
use serde_json::Value;

fn tls_client(dn: &str, format: TokenFormat) -> ClientMetadata {
    let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
    m.tls_client_auth_subject_dn = Some(dn.into());
    m.scope = "read write".into();
    m.access_token_format = format;
    m
}

async fn revoke(
    server: &TestServer,
    who: &certbound_testkit::TestIdentity,
    id: &str,
    token: &str,
) -> (u16, Value) {
    server.about_token("/revoke", who, id, token).await
}

async fn introspection_and_revocation(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut rs = tls_client("CN=rs", TokenFormat::Jwt);
    rs.may_introspect = true; // introspects the other clients' tokens
    let [alice, olive, rs] = server
        .register_each([
            ("alice", tls_client("CN=alice", TokenFormat::Jwt)),
            ("olive", tls_client("CN=olive", TokenFormat::Opaque)),
            ("rs", rs),
        ])
        .await;

    for (id, who) in [("alice", &alice), ("olive", &olive)] {
        let token = server.token(Some(who), id).await;
        let info = server.introspect(&rs, "rs", &token).await;
        assert_eq!(info["active"], true, "{id}: {info}");
        assert_eq!(
            info["cnf"]["x5t#S256"],
            Value::from(who.thumbprint().to_string()),
            "{id}"
        );
        assert_eq!(info["client_id"], id);
        assert_eq!(info["scope"], "read write");
        assert_eq!(info["iss"], Value::from(server.running().issuer.clone()));
        assert!(info["exp"].as_i64().unwrap_or(0) > info["iat"].as_i64().unwrap_or(i64::MAX));

        // Only the client the token was issued to may revoke it; anyone
        // else gets the 200 an unknown token gets (RFC 7009 §2.2), so the
        // answer does not confirm the token, and the token stays valid.
        let (status, body) = revoke(&server, &rs, "rs", &token).await;
        assert_eq!((status, &body), (200, &Value::Null), "{body}");
        assert_eq!(server.introspect(who, id, &token).await["active"], true);
        let owner = format!("owner={id:?}");
        assert!(
            common::audit_log()
                .lines()
                .any(|l| l.contains("token_revocation_refused")
                    && l.contains("caller=\"rs\"")
                    && l.contains(&owner)),
            "no audit line for the refused revocation of {id}'s token"
        );

        let (status, _) = revoke(&server, who, id, &token).await;
        assert_eq!(status, 200);
        assert_eq!(
            server.introspect(&rs, "rs", &token).await,
            serde_json::json!({"active": false}),
            "{id}"
        );
        // Revoking twice is fine.
        assert_eq!(revoke(&server, who, id, &token).await.0, 200);
    }

    // Unknown, garbage and tampered tokens are inactive; revoking them is a 200.
    let good = server.token(Some(&alice), "alice").await;
    let mut tampered = good.clone();
    tampered.replace_range(good.len() - 4.., "AAAA");
    for token in [
        "nope",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.e30.",
        tampered.as_str(),
    ] {
        assert_eq!(
            server.introspect(&rs, "rs", token).await,
            serde_json::json!({"active": false}),
            "{token}"
        );
        assert_eq!(revoke(&server, &alice, "alice", token).await.0, 200);
    }
    assert_eq!(server.introspect(&rs, "rs", &good).await["active"], true);

    // Introspection needs client authentication and a token.
    let (status, body) = server
        .post("/introspect", None, format!("token={good}").as_bytes(), &[])
        .await;
    assert_error(status, &body, (401, "invalid_client"));
    let (status, body) = server
        .post("/introspect", Some(&rs), b"client_id=rs", &[])
        .await;
    assert_error(status, &body, (400, "invalid_request"));
}
on_both_backends!(
    introspection_shows_cnf_and_revocation_ends_it,
    super::introspection_and_revocation
);

async fn rotation(backend: Backend) {
    let server = TestServer::start(backend).await;
    let [alice] = server
        .register_each([("alice", tls_client("CN=alice", TokenFormat::Jwt))])
        .await;
    let before = server.token(Some(&alice), "alice").await;
    let old_kid = header(&before)["kid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(header(&before)["typ"], "at+jwt");

    let store = server.running().server.store.clone();
    let new = certbound_server::keys::rotate(
        store.as_ref(),
        server.running().server.keys.key_encryption(),
        certbound_server::keys::SigningAlg::Es256,
        600,
        0,
    )
    .await
    .expect("rotate");
    let after = server.token(Some(&alice), "alice").await;
    assert_eq!(
        header(&after)["kid"],
        Value::from(new.kid.clone()),
        "new tokens use the new key"
    );
    assert_ne!(new.kid, old_kid);

    let jwks = server.get("/jwks").await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .map(|k| k.iter().filter_map(|j| j["kid"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        kids.contains(&old_kid.as_str()) && kids.contains(&new.kid.as_str()),
        "{jwks}"
    );
    // Both tokens still introspect as active: the old key still verifies.
    for token in [&before, &after] {
        let (status, body) = server
            .post(
                "/introspect",
                Some(&alice),
                format!("client_id=alice&token={token}").as_bytes(),
                &[],
            )
            .await;
        assert_eq!(
            (status, body["active"].as_bool()),
            (200, Some(true)),
            "{body}"
        );
    }
    assert_eq!(
        claims(&after)["iss"],
        Value::from(server.running().issuer.clone())
    );
}
on_both_backends!(key_rotation_keeps_old_tokens_valid, super::rotation);
