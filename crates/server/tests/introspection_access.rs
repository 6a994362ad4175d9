//! Who may introspect what, and the revocation list for local JWT
//! verifiers (`/revocations`), on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use certbound_core::AuthMethod;
use certbound_server::clients::ClientMetadata;
use certbound_server::clients::TokenFormat::{self, Jwt, Opaque};
use certbound_testkit::TestIdentity;
use certbound_testkit::{assert_described_error, assert_error};
use common::{Backend, TestServer, on_both_backends};
use serde_json::{Value, json};

fn tls_client(id: &str, format: TokenFormat) -> ClientMetadata {
    let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
    m.tls_client_auth_subject_dn = Some(format!("CN={id}"));
    m.scope = "read".into();
    m.access_token_format = format;
    m
}

/// The client "gateway", which may introspect every token.
fn gateway() -> ClientMetadata {
    let mut m = tls_client("gateway", Jwt);
    m.may_introspect = true;
    m
}

async fn introspection_is_limited(backend: Backend) {
    let server = TestServer::start(backend).await;
    // Tokens of `aimed` name the resource server `api` in their aud.
    let mut aimed = tls_client("aimed", Jwt);
    aimed.audience = Some("api".into());
    let [alice, olive, aimed, api, mallory, gw] = server
        .register_each([
            ("alice", tls_client("alice", Jwt)),
            ("olive", tls_client("olive", Opaque)),
            ("aimed", aimed),
            ("api", tls_client("api", Jwt)),
            ("mallory", tls_client("mallory", Jwt)),
            ("gateway", gateway()),
        ])
        .await;

    for (id, who) in [("alice", &alice), ("olive", &olive)] {
        let token = server.token(Some(who), id).await;
        // A third client without the permission learns nothing about a live token...
        assert_eq!(
            server.introspect(&mallory, "mallory", &token).await,
            json!({"active": false}),
            "{id}"
        );
        // ...which is still active for its own client and for a permitted one.
        let own = server.introspect(who, id, &token).await;
        assert_eq!(
            (own["active"].as_bool(), own["client_id"].as_str()),
            (Some(true), Some(id))
        );
        let full = server.introspect(&gw, "gateway", &token).await;
        assert_eq!(full["active"], true, "{full}");
        assert_eq!(full["client_id"], id);
        assert_eq!(full["scope"], "read");
        assert_eq!(
            full["cnf"]["x5t#S256"],
            Value::from(who.thumbprint().to_string())
        );
        // A client named in some other token's aud gets nothing here.
        assert_eq!(
            server.introspect(&api, "api", &token).await,
            json!({"active": false}),
            "{id}"
        );
    }

    // The client named in aud gets the full answer; others still do not.
    let token = server.token(Some(&aimed), "aimed").await;
    let seen = server.introspect(&api, "api", &token).await;
    assert_eq!(
        (
            seen["active"].as_bool(),
            seen["aud"].as_str(),
            seen["client_id"].as_str()
        ),
        (Some(true), Some("api"), Some("aimed")),
        "{seen}"
    );
    assert_eq!(
        server.introspect(&mallory, "mallory", &token).await,
        json!({"active": false})
    );
}
on_both_backends!(
    only_owner_audience_and_permitted_clients_see_a_token,
    super::introspection_is_limited
);

async fn revocation_list(
    server: &TestServer,
    who: Option<&TestIdentity>,
    form: &str,
) -> (u16, Value) {
    server.post("/revocations", who, form.as_bytes(), &[]).await
}

/// The revocation list as the gateway reads it, with `query` (`since`,
/// `limit`) after its client_id.
async fn gateway_reads(server: &TestServer, gw: &TestIdentity, query: &str) -> (u16, Value) {
    let form = format!("client_id=gateway&{query}");
    revocation_list(server, Some(gw), &form).await
}

async fn revoke(server: &TestServer, who: &TestIdentity, id: &str, token: &str) {
    let (status, body) = server.about_token("/revoke", who, id, token).await;
    assert_eq!(status, 200, "{body}");
}

fn jtis(body: &Value) -> Vec<String> {
    body["revoked"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["jti"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn jti_of(token: &str) -> String {
    common::claims(token)["jti"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn revocations_endpoint(backend: Backend) {
    let server = TestServer::start(backend).await;
    let [alice, olive, mallory, gw] = server
        .register_each([
            ("alice", tls_client("alice", Jwt)),
            ("olive", tls_client("olive", Opaque)),
            ("mallory", tls_client("mallory", Jwt)),
            ("gateway", gateway()),
        ])
        .await;

    // Listed in the metadata, with its mTLS alias when the listeners differ.
    let meta = server.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(
        meta["certbound_revocation_list_endpoint"],
        Value::from(format!("{}/revocations", server.url)),
        "{meta}"
    );

    // Unauthenticated: 401 invalid_client; authenticated without permission: 403.
    let (status, body) = revocation_list(&server, None, "").await;
    assert_error(status, &body, (401, "invalid_client"));
    let (status, body) = revocation_list(&server, None, "client_id=gateway").await;
    assert_error(status, &body, (401, "invalid_client"));
    let (status, body) = revocation_list(&server, Some(&mallory), "client_id=mallory").await;
    assert_described_error(
        status,
        &body,
        (
            403,
            "unauthorized_client",
            "this client may not read the revocation list; register it with --may-introspect",
        ),
        "",
    );

    // Empty list at first.
    let (status, first) = revocation_list(&server, Some(&gw), "client_id=gateway").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        (jtis(&first).len(), first["complete"].as_bool()),
        (0, Some(true)),
        "{first}"
    );
    let cursor0 = first["cursor"].as_str().unwrap_or_default().to_owned();

    // Two JWTs revoked (an opaque one too: not a JWT, never listed).
    let t1 = server.token(Some(&alice), "alice").await;
    let t2 = server.token(Some(&alice), "alice").await;
    let opaque = server.token(Some(&olive), "olive").await;
    revoke(&server, &alice, "alice", &t1).await;
    revoke(&server, &olive, "olive", &opaque).await;
    revoke(&server, &alice, "alice", &t2).await;
    let (status, page) = gateway_reads(&server, &gw, &format!("since={cursor0}")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(jtis(&page), [jti_of(&t1), jti_of(&t2)], "{page}");
    assert_eq!(page["revoked"][0]["exp"], common::claims(&t1)["exp"]);
    assert_eq!(page["complete"], true);
    let cursor1 = page["cursor"].as_str().unwrap_or_default().to_owned();

    // Incremental: the cursor returns only what is new.
    let (_, none) = gateway_reads(&server, &gw, &format!("since={cursor1}")).await;
    assert_eq!(
        (jtis(&none).len(), none["cursor"].as_str()),
        (0, Some(cursor1.as_str())),
        "{none}"
    );
    let t3 = server.token(Some(&alice), "alice").await;
    revoke(&server, &alice, "alice", &t3).await;
    let (_, new) = gateway_reads(&server, &gw, &format!("since={cursor1}")).await;
    assert_eq!(jtis(&new), [jti_of(&t3)], "{new}");

    // Paging: limit=1 says complete=false until the last page.
    let (_, p1) = gateway_reads(&server, &gw, &format!("since={cursor0}&limit=2")).await;
    assert_eq!(
        (jtis(&p1).len(), p1["complete"].as_bool()),
        (2, Some(false)),
        "{p1}"
    );
    let next = p1["cursor"].as_str().unwrap_or_default();
    let (_, p2) = gateway_reads(&server, &gw, &format!("since={next}&limit=2")).await;
    assert_eq!(
        (jtis(&p2), p2["complete"].as_bool()),
        (vec![jti_of(&t3)], Some(true)),
        "{p2}"
    );

    // Bad input: exact errors.
    for (form, why) in [
        (
            "since=-1",
            "since must be a cursor returned by an earlier /revocations answer",
        ),
        (
            "since=abc",
            "since must be a cursor returned by an earlier /revocations answer",
        ),
        ("limit=0", "limit must be a number from 1 to 1000"),
        ("limit=1001", "limit must be a number from 1 to 1000"),
    ] {
        let (status, body) = gateway_reads(&server, &gw, form).await;
        assert_described_error(status, &body, (400, "invalid_request", why), form);
    }
}
on_both_backends!(
    revocation_list_is_authenticated_permitted_and_incremental,
    super::revocations_endpoint
);
