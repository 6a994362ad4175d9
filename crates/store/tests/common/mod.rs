//! Fixtures shared by the store's integration tests: the records they
//! store, the code flow's steps that produce them, and a probe that counts
//! rows the store's traits cannot list.

// Each test crate uses its own subset.
#![allow(dead_code)]

use certbound_store::{
    GrantAccessToken, GrantStore, SqlStore, StoreError, StoredCode, StoredGrant, StoredInteraction,
    StoredRefreshToken,
};
use sqlx::Row;

/// A time after 2^31 seconds, so a 32-bit column would fail the round trip.
pub const NOW: i64 = 4_102_444_800;
pub const HOUR: i64 = 3600;
pub const DAY: i64 = 24 * HOUR;
/// SQL metacharacters in a value: only parameterised SQL round-trips it.
pub const EVIL: &str = "x'; DROP TABLE grants; --";

pub async fn connect(url: &str) -> SqlStore {
    SqlStore::connect(url).await.expect("connect")
}

pub fn ok<T>(r: Result<T, StoreError>, what: &str) -> T {
    r.expect(what)
}

/// Connects to `url`, checks that the store names its `backend`, runs
/// `suite` on it and closes it.
pub async fn run_suite(url: &str, backend: &str, suite: impl AsyncFnOnce(&SqlStore)) {
    let store = connect(url).await;
    assert_eq!(store.backend(), backend);
    suite(&store).await;
    store.close().await;
}

/// A second pool on the same database, to count rows the trait cannot list.
pub struct Probe(sqlx::AnyPool);

impl Probe {
    /// A pool of its own on the database at `url`.
    pub async fn new(url: &str) -> Probe {
        sqlx::any::install_default_drivers();
        Probe(sqlx::AnyPool::connect(url).await.expect("probe connect"))
    }

    /// Rows of `table` whose `column` is `value`, or all rows if `value` is `None`.
    pub async fn count(&self, table: &str, column: &str, value: Option<&str>) -> i64 {
        let row = match value {
            Some(v) => {
                let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} = $1");
                sqlx::query(&sql).bind(v).fetch_one(&self.0).await
            }
            None => {
                let sql = format!("SELECT COUNT(*) AS n FROM {table}");
                sqlx::query(&sql).fetch_one(&self.0).await
            }
        };
        row.expect("count").try_get::<i64, _>("n").expect("n")
    }

    pub async fn access_tokens(&self, jti: &str) -> i64 {
        self.count("grant_access_tokens", "jti", Some(jti)).await
    }
}

pub fn interaction(hash: &str, expires_at: i64) -> StoredInteraction {
    StoredInteraction {
        interaction_hash: hash.to_owned(),
        client_id: "client-a".to_owned(),
        request: format!(r#"{{"state":"it's \"{hash}\"","scope":"openid"}}"#),
        browser_hash: format!("browser-{hash}"),
        csrf_hash: format!("csrf-{hash}"),
        user_id: None,
        auth_time: None,
        consented_scope: None,
        created_at: NOW,
        expires_at,
        completed_at: None,
        rejection: None,
    }
}

pub fn code(hash: &str, expires_at: i64) -> StoredCode {
    StoredCode {
        code_hash: hash.to_owned(),
        client_id: "client-a".to_owned(),
        user_id: "u-1".to_owned(),
        redirect_uri: "https://app.example/cb?x='1'&y=\"2\"".to_owned(),
        redirect_uri_given: true,
        scope: "openid profile".to_owned(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        nonce: Some(EVIL.to_owned()),
        auth_time: NOW,
        created_at: NOW,
        expires_at,
        redeemed_at: None,
        grant_id: None,
    }
}

pub fn grant(id: &str, expires_at: i64) -> StoredGrant {
    StoredGrant {
        grant_id: id.to_owned(),
        client_id: "client-a".to_owned(),
        user_id: "u-1".to_owned(),
        scope: "openid profile".to_owned(),
        cnf_x5t_s256: Some("bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2".to_owned()),
        auth_time: NOW,
        created_at: NOW,
        expires_at,
        used_at: NOW,
        revoked_at: None,
    }
}

pub fn access(jti: &str, expires_at: i64) -> GrantAccessToken {
    GrantAccessToken {
        jti: jti.to_owned(),
        expires_at,
    }
}

pub fn refresh(hash: &str, grant_id: &str, expires_at: i64) -> StoredRefreshToken {
    StoredRefreshToken {
        token_hash: hash.to_owned(),
        grant_id: grant_id.to_owned(),
        issued_at: NOW,
        expires_at,
        rotated_at: None,
        successor_hash: None,
        sealed_response: None,
    }
}

/// An interaction `{hash}-i` completed with code `hash` (for u-1 at client-a).
pub async fn issue_code(store: &SqlStore, hash: &str, expires_at: i64) {
    issue_code_to(store, hash, "u-1", "client-a", expires_at).await;
}

/// An interaction `{hash}-i` completed with code `hash`.
pub async fn issue_code_to(
    store: &SqlStore,
    hash: &str,
    user_id: &str,
    client_id: &str,
    expires_at: i64,
) {
    let mut i = interaction(&format!("{hash}-i"), expires_at);
    i.client_id = client_id.to_owned();
    ok(store.create_interaction(&i).await, "interaction");
    let mut c = code(hash, expires_at);
    (c.user_id, c.client_id) = (user_id.to_owned(), client_id.to_owned());
    let done = store
        .complete_interaction(&i.interaction_hash, NOW, Some(&c))
        .await;
    assert!(ok(done, "complete with code"));
}

/// Code `{id}-code` redeemed into grant `id` (for u-1 at client-a) with
/// access token `{id}-at` and refresh token `{id}-rt`.
pub async fn issue_grant(store: &SqlStore, id: &str, expires_at: i64) {
    issue_grant_to(store, id, "u-1", "client-a", expires_at).await;
}

/// Code `{id}-code` redeemed into grant `id` with `{id}-at` and `{id}-rt`.
pub async fn issue_grant_to(
    store: &SqlStore,
    id: &str,
    user_id: &str,
    client_id: &str,
    expires_at: i64,
) {
    let code_hash = format!("{id}-code");
    issue_code_to(store, &code_hash, user_id, client_id, expires_at).await;
    let mut g = grant(id, expires_at);
    (g.user_id, g.client_id) = (user_id.to_owned(), client_id.to_owned());
    let at = access(&format!("{id}-at"), expires_at);
    let rt = refresh(&format!("{id}-rt"), id, expires_at);
    let redeemed = store.redeem_code(&code_hash, NOW, &g, &at, Some(&rt)).await;
    assert!(ok(redeemed, "redeem"));
}
