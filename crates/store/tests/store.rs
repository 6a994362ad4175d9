//! One behavioural suite for [`Store`], run unchanged against SQLite (a temp
//! file and `sqlite::memory:`) and a fresh PostgreSQL database. PostgreSQL
//! must be running: these tests fail, never skip, without it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use certbound_store::{
    ResealedKey, SqlStore, Store, StoreError, StoredClient, StoredSigningKey, StoredToken, Taken,
};
use certbound_testkit::{TestPostgres, sqlite_url};
use common::{HOUR, NOW, connect, ok, run_suite};

const EVIL_ID: &str = "x'; DROP TABLE clients; --";

// ---------------------------------------------------------------- helpers

fn some<T>(v: Option<T>, what: &str) -> T {
    match v {
        Some(v) => v,
        None => panic!("{what}: expected a value, got None"),
    }
}

fn client(id: &str) -> StoredClient {
    StoredClient {
        client_id: id.to_owned(),
        metadata: format!(r#"{{"client_name":"{id}","note":"it's \"quoted\""}}"#),
        secret_hash: None,
        created_at: NOW,
    }
}

fn key(kid: &str, created_at: i64) -> StoredSigningKey {
    StoredSigningKey {
        kid: kid.to_owned(),
        alg: "ES256".to_owned(),
        private_key: format!("sealed:{kid}"),
        kek_id: Some("kek-a".to_owned()),
        public_jwk: format!(r#"{{"kty":"EC","kid":"{kid}"}}"#),
        created_at,
        activates_at: created_at,
        retired_at: None,
        publish_until: None,
        max_token_ttl: 0,
        max_signing_lag: 0,
    }
}

fn token(hash: &str, expires_at: i64) -> StoredToken {
    StoredToken {
        token_hash: hash.to_owned(),
        jti: format!("jti-{hash}"),
        client_id: "client-a".to_owned(),
        subject: "client-a".to_owned(),
        scope: "read write".to_owned(),
        audience: "https://api.example".to_owned(),
        cnf_x5t_s256: Some("bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2".to_owned()),
        issued_at: NOW,
        expires_at,
        revoked_at: None,
    }
}

fn kids(keys: &[StoredSigningKey]) -> Vec<&str> {
    keys.iter().map(|k| k.kid.as_str()).collect()
}

// ---------------------------------------------------------------- the suite

/// Every trait method, on an empty database.
async fn suite(store: &SqlStore) {
    ok(store.ping().await, "ping");
    clients(store).await;
    signing_keys(store).await;
    opaque_tokens(store).await;
    jti_revocation(store).await;
    purge(store).await;
    key_use(store).await;
    resealing(store).await;
}

/// After `key_use`: every key resealed at once, or none when one changed.
async fn resealing(store: &SqlStore) {
    let before = ok(store.signing_keys().await, "keys before reseal");
    let resealed = |k: &StoredSigningKey, replaces: &str| ResealedKey {
        kid: k.kid.clone(),
        replaces: replaces.to_owned(),
        private_key: format!("resealed:{}", k.kid),
        kek_id: "kek-b".to_owned(),
    };
    // One entry names a value the store no longer holds: nothing is written.
    let mut stale: Vec<ResealedKey> = before.iter().map(|k| resealed(k, &k.private_key)).collect();
    stale.push(resealed(&before[0], "sealed:someone-else"));
    match store.reseal_signing_keys(&stale).await {
        Err(StoreError::KeyChanged { kid }) => assert_eq!(kid, before[0].kid),
        other => panic!("reseal over a changed key: expected KeyChanged, got {other:?}"),
    }
    assert_eq!(
        ok(store.signing_keys().await, "keys after refused reseal"),
        before
    );

    let all: Vec<ResealedKey> = before.iter().map(|k| resealed(k, &k.private_key)).collect();
    assert_eq!(
        ok(store.reseal_signing_keys(&all).await, "reseal"),
        before.len() as u64
    );
    let after = ok(store.signing_keys().await, "keys after reseal");
    assert_eq!(kids(&after), kids(&before));
    for (a, b) in after.iter().zip(&before) {
        assert_eq!(a.private_key, format!("resealed:{}", b.kid));
        assert_eq!(a.kek_id.as_deref(), Some("kek-b"));
        // Only the sealed key and its KEK id change.
        assert_eq!(
            (&a.public_jwk, a.created_at, a.retired_at),
            (&b.public_jwk, b.created_at, b.retired_at)
        );
    }
}

/// After `purge`: k5 is the only key, active.
async fn key_use(store: &SqlStore) {
    // What instances record for a key only ever grows, per column, and
    // writes only the key named.
    let recorded = |keys: &[StoredSigningKey], kid: &str| {
        keys.iter()
            .find(|k| k.kid == kid)
            .map(|k| (k.max_token_ttl, k.max_signing_lag))
    };
    for (ttl, lag) in [(300, 10), (3600, 0), (60, 30), (3600, 10)] {
        ok(store.record_key_use("k5", ttl, lag, 60).await, "record use");
    }
    ok(
        store.record_key_use("no-such-kid", 9, 9, 60).await,
        "unknown kid",
    );
    let keys = ok(store.signing_keys().await, "keys after recording");
    assert_eq!(recorded(&keys, "k5"), Some((3600, 30)));
    assert_eq!(kids(&keys), ["k5"], "no row added");

    // Retiring k5 publishes it until its longest recorded token has
    // expired (+ signing lag + margin), though the caller asked for less...
    ok(
        store
            .rotate_signing_key(
                &key("k6", NOW + 2 * HOUR),
                NOW + 2 * HOUR,
                NOW + 2 * HOUR + 300,
                60,
            )
            .await,
        "rotate k6",
    );
    let keys = ok(store.signing_keys().await, "keys after k6");
    let k5 = some(keys.iter().find(|k| k.kid == "k5"), "k5");
    assert_eq!(k5.publish_until, Some(NOW + 2 * HOUR + 3600 + 30 + 60));
    // ...and until what the caller asked for when that is later.
    ok(store.record_key_use("k6", 100, 1, 60).await, "record k6");
    ok(
        store
            .rotate_signing_key(
                &key("k7", NOW + 3 * HOUR),
                NOW + 3 * HOUR,
                NOW + 5 * HOUR,
                60,
            )
            .await,
        "rotate k7",
    );
    let keys = ok(store.signing_keys().await, "keys after k7");
    let k6 = some(keys.iter().find(|k| k.kid == "k6"), "k6");
    assert_eq!(k6.publish_until, Some(NOW + 5 * HOUR));
    let k7 = some(keys.iter().find(|k| k.kid == "k7"), "k7");
    assert_eq!((k7.activates_at, k7.retired_at), (NOW + 3 * HOUR, None));

    // An instance that starts signing with k6 after the rotation (it was
    // published ahead, so k6 signs until NOW + 3h) and with longer tokens
    // keeps it published for them...
    ok(
        store.record_key_use("k6", 4 * HOUR, 5, 60).await,
        "late k6 use",
    );
    // ...a use that raises nothing changes nothing, and the newest key has
    // no end of publication to raise.
    ok(store.record_key_use("k6", 100, 1, 60).await, "small k6 use");
    ok(store.record_key_use("k7", 4 * HOUR, 5, 60).await, "k7 use");
    let keys = ok(store.signing_keys().await, "keys after late use");
    let k6 = some(keys.iter().find(|k| k.kid == "k6"), "k6");
    assert_eq!(k6.publish_until, Some(NOW + 3 * HOUR + 4 * HOUR + 5 + 60));
    let k7 = some(keys.iter().find(|k| k.kid == "k7"), "k7");
    assert_eq!((k7.max_token_ttl, k7.publish_until), (4 * HOUR, None));
}

async fn clients(store: &SqlStore) {
    assert!(ok(store.clients().await, "list").is_empty());
    assert_eq!(ok(store.client("client-a").await, "get missing"), None);
    let generation = || async { ok(store.client_generation().await, "generation") };
    let start = generation().await;

    let mut b = client("client-b");
    b.secret_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned());
    ok(store.create_client(&b).await, "create b");
    ok(store.create_client(&client("client-a")).await, "create a");
    ok(store.create_client(&client("Client-Z")).await, "create Z");
    let evil = client(EVIL_ID);
    ok(store.create_client(&evil).await, "create evil");
    let unicode = client("клиент-é-🔑");
    ok(store.create_client(&unicode).await, "create unicode");

    assert_eq!(ok(store.client("client-b").await, "get b"), Some(b.clone()));
    assert_eq!(ok(store.client(EVIL_ID).await, "get evil"), Some(evil));
    assert_eq!(
        ok(store.client(&unicode.client_id).await, "get unicode"),
        Some(unicode)
    );
    // Near misses of the evil id find nothing (no pattern matching).
    assert_eq!(ok(store.client("x'").await, "get prefix"), None);
    assert_eq!(ok(store.client("client-%").await, "get wildcard"), None);

    let ids: Vec<String> = ok(store.clients().await, "list")
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    // Byte order on both backends, whatever PostgreSQL's collation.
    assert_eq!(
        ids,
        ["Client-Z", "client-a", "client-b", EVIL_ID, "клиент-é-🔑"]
    );

    match store.create_client(&client("client-a")).await {
        Err(StoreError::Conflict {
            taken: Taken::ClientId(id),
            source: Some(_),
        }) => assert_eq!(id, "client-a"),
        other => panic!("duplicate client: expected Conflict, got {other:?}"),
    }
    // The failed insert changed nothing, not even the generation.
    assert_eq!(ok(store.clients().await, "list").len(), 5);
    assert_eq!(generation().await, start + 5, "one bump per created client");

    assert!(ok(store.delete_client("Client-Z").await, "delete Z"));
    assert_eq!(generation().await, start + 6, "a delete bumps it");
    assert!(!ok(store.delete_client("Client-Z").await, "delete Z again"));
    assert_eq!(generation().await, start + 6, "deleting nothing does not");
    assert!(ok(store.delete_client(EVIL_ID).await, "delete evil"));
    assert_eq!(ok(store.client(EVIL_ID).await, "get deleted"), None);
    assert_eq!(ok(store.clients().await, "list").len(), 3);
}

/// Rotates onto `next` an hour after NOW, the old key published for one
/// more hour; returns the keys listed after.
async fn rotate_an_hour_on(store: &SqlStore, next: &StoredSigningKey) -> Vec<StoredSigningKey> {
    let what = format!("rotate to {}", next.kid);
    ok(
        store
            .rotate_signing_key(next, NOW + HOUR, NOW + 2 * HOUR, 60)
            .await,
        &what,
    );
    ok(store.signing_keys().await, &what)
}

async fn signing_keys(store: &SqlStore) {
    assert!(ok(store.signing_keys().await, "no keys").is_empty());

    let k1 = key("k1", NOW);
    assert!(ok(store.insert_first_signing_key(&k1).await, "first key"));
    assert!(!ok(
        store.insert_first_signing_key(&key("k2", NOW)).await,
        "second first key"
    ));
    assert!(!ok(
        store.insert_first_signing_key(&k1).await,
        "same first key again"
    ));
    assert_eq!(ok(store.signing_keys().await, "keys"), vec![k1.clone()]);

    // Rotation retires k1 (still published) and activates k3.
    let k3 = key("k3", NOW + HOUR);
    let keys = rotate_an_hour_on(store, &k3).await;
    assert_eq!(kids(&keys), ["k3", "k1"]);
    assert_eq!(keys[0], k3);
    assert_eq!(
        (keys[1].retired_at, keys[1].publish_until),
        (Some(NOW + HOUR), Some(NOW + 2 * HOUR))
    );
    assert_eq!(keys[1].private_key, k1.private_key);
    // Still exactly one active key, so a "first" key is still refused.
    assert!(!ok(
        store.insert_first_signing_key(&key("k4", NOW)).await,
        "first after rotate"
    ));

    // A rotation whose new kid is taken fails as a whole: k3 stays active.
    match store
        .rotate_signing_key(
            &key("k1", NOW + 3 * HOUR),
            NOW + 3 * HOUR,
            NOW + 4 * HOUR,
            60,
        )
        .await
    {
        Err(StoreError::Conflict {
            source: Some(_), ..
        }) => {}
        other => panic!("rotate onto a taken kid: expected Conflict, got {other:?}"),
    }
    let keys = ok(store.signing_keys().await, "keys after failed rotate");
    assert_eq!(kids(&keys), ["k3", "k1"]);
    assert_eq!(keys[0].retired_at, None);

    // Same created_at: newest first falls back to kid descending.
    let k5 = key("k5", NOW + HOUR);
    let keys = rotate_an_hour_on(store, &k5).await;
    assert_eq!(kids(&keys), ["k5", "k3", "k1"]);
    assert_eq!(keys.iter().filter(|k| k.retired_at.is_none()).count(), 1);
}

async fn opaque_tokens(store: &SqlStore) {
    let t = token("hash-1", NOW + HOUR);
    assert_eq!(
        ok(store.opaque_token("hash-1").await, "missing token"),
        None
    );
    ok(store.insert_opaque_token(&t).await, "insert token");
    assert_eq!(
        ok(store.opaque_token("hash-1").await, "find token"),
        Some(t.clone())
    );

    let mut unbound = token("hash-2", NOW + HOUR);
    unbound.cnf_x5t_s256 = None;
    unbound.subject = EVIL_ID.to_owned();
    ok(store.insert_opaque_token(&unbound).await, "insert unbound");
    assert_eq!(
        ok(store.opaque_token("hash-2").await, "find unbound"),
        Some(unbound)
    );

    let mut same_jti = token("hash-3", NOW + HOUR);
    same_jti.jti = t.jti.clone();
    for (what, taken) in [("duplicate token", &t), ("duplicate jti", &same_jti)] {
        match store.insert_opaque_token(taken).await {
            Err(StoreError::Conflict {
                taken: Taken::Other(_),
                source: Some(_),
            }) => {}
            other => panic!("{what}: expected Conflict, got {other:?}"),
        }
    }

    assert!(ok(
        store.revoke_opaque_token("hash-1", NOW + 60).await,
        "revoke"
    ));
    assert!(!ok(
        store.revoke_opaque_token("hash-1", NOW + 120).await,
        "revoke again"
    ));
    assert!(!ok(
        store.revoke_opaque_token("no-such-hash", NOW).await,
        "revoke unknown"
    ));
    let revoked = some(
        ok(store.opaque_token("hash-1").await, "find revoked"),
        "revoked token",
    );
    assert_eq!(
        revoked.revoked_at,
        Some(NOW + 60),
        "first revocation time kept"
    );
}

async fn jti_revocation(store: &SqlStore) {
    assert!(!ok(store.is_jti_revoked("jwt-1").await, "not yet revoked"));
    ok(
        store.revoke_jti("jwt-1", "client-a", NOW + HOUR, NOW).await,
        "revoke jti",
    );
    ok(
        store
            .revoke_jti("jwt-1", "client-a", NOW + HOUR, NOW + 5)
            .await,
        "revoke jti again",
    );
    assert!(ok(store.is_jti_revoked("jwt-1").await, "revoked"));
    assert!(!ok(store.is_jti_revoked("jwt-2").await, "other jti"));
    ok(
        store.revoke_jti(EVIL_ID, "client-a", NOW + HOUR, NOW).await,
        "revoke evil jti",
    );
    assert!(ok(store.is_jti_revoked(EVIL_ID).await, "evil jti revoked"));
    revocation_list(store).await;
}

/// The incremental list: sequence order, resumable after any number, paged,
/// expired entries left out. Runs after `jti_revocation` (jwt-1, EVIL).
async fn revocation_list(store: &SqlStore) {
    let all = ok(store.revoked_jtis_after(0, NOW, 100).await, "list all");
    let jtis: Vec<&str> = all.iter().map(|r| r.jti.as_str()).collect();
    assert_eq!(jtis, ["jwt-1", EVIL_ID], "in revocation order");
    assert_eq!(all[0].expires_at, NOW + HOUR);
    assert!(all[0].seq > 0 && all[1].seq > all[0].seq, "{all:?}");

    // Resuming after the last number seen returns nothing until a new revocation.
    let last = all[1].seq;
    assert_eq!(
        ok(
            store.revoked_jtis_after(last, NOW, 100).await,
            "nothing new"
        ),
        []
    );
    ok(
        store.revoke_jti("jwt-3", "client-b", NOW + 60, NOW).await,
        "revoke jwt-3",
    );
    let new = ok(store.revoked_jtis_after(last, NOW, 100).await, "only new");
    assert_eq!(new.len(), 1);
    assert_eq!(
        (new[0].jti.as_str(), new[0].expires_at),
        ("jwt-3", NOW + 60)
    );
    assert!(new[0].seq > last);

    // Paging: a limit of 1 walks the same list one entry at a time.
    let mut paged = Vec::new();
    let mut cursor = 0;
    loop {
        let page = ok(store.revoked_jtis_after(cursor, NOW, 1).await, "page");
        let Some(entry) = page.first() else { break };
        assert_eq!(page.len(), 1);
        cursor = entry.seq;
        paged.push(entry.jti.clone());
    }
    assert_eq!(paged, ["jwt-1", EVIL_ID, "jwt-3"]);

    // Entries whose token has expired are not listed (they are purged later).
    let later = ok(
        store.revoked_jtis_after(0, NOW + 61, 100).await,
        "after jwt-3 expired",
    );
    let jtis: Vec<&str> = later.iter().map(|r| r.jti.as_str()).collect();
    assert_eq!(jtis, ["jwt-1", EVIL_ID]);
}

/// Revocations committed concurrently through two pools while a reader
/// follows the list incrementally: the reader ends up with every one of
/// them, none twice. Timestamps as a cursor would lose some of these.
async fn concurrent_revocations_are_never_missed(a: &SqlStore, b: &SqlStore) {
    const WRITERS: usize = 4;
    const EACH: usize = 25;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let store = if w % 2 == 0 { a.clone() } else { b.clone() };
        tasks.spawn(async move {
            for i in 0..EACH {
                ok(
                    store
                        .revoke_jti(&format!("race-{w}-{i}"), "racer", NOW + HOUR, NOW)
                        .await,
                    "concurrent revoke",
                );
            }
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = 0;
    let mut writers_done = false;
    loop {
        let page = ok(a.revoked_jtis_after(cursor, NOW, 7).await, "poll");
        for entry in &page {
            assert!(entry.seq > cursor, "sequence goes backwards: {entry:?}");
            cursor = entry.seq;
            assert!(seen.insert(entry.jti.clone()), "seen twice: {entry:?}");
        }
        if page.is_empty() && writers_done {
            break;
        }
        if !writers_done && tasks.is_empty() {
            writers_done = true;
        }
        while let Some(joined) = tasks.try_join_next() {
            joined.expect("writer task");
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(seen.len(), WRITERS * EACH, "every revocation was listed");
}

/// Runs after the sections above: tokens hash-1/hash-2 and JTIs jwt-1/EVIL
/// expire at NOW+1h; keys k3 and k1 are published until NOW+2h.
async fn purge(store: &SqlStore) {
    ok(
        store.insert_opaque_token(&token("old-1", NOW - 2)).await,
        "old token 1",
    );
    ok(
        store.insert_opaque_token(&token("old-2", NOW - 1)).await,
        "old token 2",
    );
    ok(
        store
            .revoke_jti("old-jwt", "client-a", NOW - 1, NOW - 10)
            .await,
        "old jti",
    );

    // Nothing has expired before NOW-2.
    assert_eq!(ok(store.purge_expired(NOW - 2).await, "purge early"), 0);
    // old-1, old-2 and old-jwt.
    assert_eq!(ok(store.purge_expired(NOW).await, "purge now"), 3);
    assert_eq!(ok(store.opaque_token("old-1").await, "purged token"), None);
    assert!(!ok(store.is_jti_revoked("old-jwt").await, "purged jti"));
    assert!(ok(store.opaque_token("hash-1").await, "live token").is_some());
    assert_eq!(ok(store.purge_expired(NOW).await, "purge again"), 0);

    // After NOW+2h+1: 2 tokens, 3 JTIs (jwt-3 from the revocation list) and
    // the 2 retired keys, never the active one.
    assert_eq!(
        ok(store.purge_expired(NOW + 2 * HOUR + 1).await, "purge later"),
        7
    );
    assert_eq!(
        kids(&ok(store.signing_keys().await, "keys after purge")),
        ["k5"]
    );
    assert!(!ok(store.is_jti_revoked("jwt-1").await, "jti purged"));
    assert_eq!(ok(store.purge_expired(i64::MAX).await, "purge all"), 0);
    assert_eq!(
        ok(store.signing_keys().await, "active key survives").len(),
        1
    );
    assert_eq!(ok(store.clients().await, "clients untouched").len(), 3);
}

/// Eight tasks over two pools (two "instances") race to install the first key.
async fn race_first_key(a: &SqlStore, b: &SqlStore) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let store: Arc<dyn Store> = Arc::new(if i % 2 == 0 { a.clone() } else { b.clone() });
        tasks.spawn(async move {
            store
                .insert_first_signing_key(&key(&format!("race-{i}"), NOW))
                .await
        });
    }
    let mut winners = 0;
    while let Some(joined) = tasks.join_next().await {
        if ok(joined.expect("join task"), "racing insert_first") {
            winners += 1;
        }
    }
    assert_eq!(winners, 1, "exactly one racer may install the first key");
    let keys = ok(a.signing_keys().await, "keys after race");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].retired_at, None);
}

// ---------------------------------------------------------------- backends

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_file_suite() {
    let dir = tempfile::tempdir().expect("temp dir");
    run_suite(&sqlite_url(dir.path()), "sqlite", async |store| {
        suite(store).await;
        // The after_connect PRAGMAs ran: the database is in WAL mode.
        assert!(dir.path().join("certbound.db-wal").exists(), "no WAL file");
    })
    .await;

    // Reopening keeps the data and re-running the migrations is a no-op.
    let store = connect(&sqlite_url(dir.path())).await;
    assert_eq!(ok(store.clients().await, "clients after reopen").len(), 3);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_file_race() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(dir.path());
    let (a, b) = (connect(&url).await, connect(&url).await);
    race_first_key(&a, &b).await;
    concurrent_revocations_are_never_missed(&a, &b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_memory_suite() {
    let store = connect("sqlite::memory:").await;
    assert_eq!(store.backend(), "sqlite");
    suite(&store).await;
    // One pool, so both "instances" share the in-memory database.
    let fresh = connect("sqlite::memory:").await;
    race_first_key(&fresh, &fresh).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_suite() {
    let db = TestPostgres::create();
    run_suite(&db.url(), "postgres", suite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_race() {
    let db = TestPostgres::create();
    let (a, b) = (connect(&db.url()).await, connect(&db.url()).await);
    race_first_key(&a, &b).await;
    concurrent_revocations_are_never_missed(&a, &b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_instances_share_one_database() {
    let db = TestPostgres::create();
    let a = connect(&db.url()).await;
    let b = connect(&db.url()).await;
    ok(a.create_client(&client("shared")).await, "create via a");
    assert_eq!(
        ok(b.client("shared").await, "read via b"),
        Some(client("shared"))
    );
    ok(
        b.revoke_jti("jwt-shared", "shared", NOW, NOW).await,
        "revoke via b",
    );
    assert!(ok(
        a.is_jti_revoked("jwt-shared").await,
        "revocation seen by a"
    ));
    match b.create_client(&client("shared")).await {
        Err(StoreError::Conflict {
            taken: Taken::ClientId(id),
            ..
        }) if id == "shared" => {}
        other => panic!("duplicate across instances: expected Conflict, got {other:?}"),
    }
    a.close().await;
    b.close().await;
}

// ---------------------------------------------------------------- errors

#[tokio::test]
async fn unreachable_postgres_is_unavailable_promptly() {
    let started = Instant::now();
    match SqlStore::connect("postgres://postgres@127.0.0.1:1/postgres").await {
        Err(StoreError::Unavailable { .. }) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn unsupported_urls_are_invalid() {
    for url in [
        "",
        "mysql://root@127.0.0.1/db",
        "sqlite:relative.db",
        "sqlite://",
        "http://x/y",
    ] {
        match SqlStore::connect(url).await {
            Err(e @ StoreError::InvalidUrl { source: None, .. }) => {
                // The message tells the operator what to write instead.
                let msg = e.to_string();
                assert!(
                    msg.contains("sqlite://PATH") && msg.contains("postgres://"),
                    "{msg}"
                );
            }
            other => panic!("{url:?}: expected InvalidUrl, got {other:?}"),
        }
    }
    // sqlx rejects the query parameter: still the caller's URL at fault.
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("{}?bogus=1", sqlite_url(dir.path()));
    match SqlStore::connect(&url).await {
        Err(StoreError::InvalidUrl {
            source: Some(sqlx::Error::Configuration(_)),
            ..
        }) => {}
        other => panic!("unknown sqlite parameter: expected InvalidUrl, got {other:?}"),
    }
}

#[tokio::test]
async fn closed_store_is_unavailable() {
    let store = connect("sqlite::memory:").await;
    store.close().await;
    match store.ping().await {
        Err(StoreError::Unavailable {
            source: sqlx::Error::PoolClosed,
        }) => {}
        other => panic!("ping after close: expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn sqlite_missing_directory_is_a_database_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(&dir.path().join("no/such/dir"));
    let started = Instant::now();
    match SqlStore::connect(&url).await {
        // SQLITE_CANTOPEN: a configuration problem, not worth retrying.
        Err(StoreError::Database {
            source: sqlx::Error::Database(db),
        }) => {
            let code = db.code().and_then(|c| c.parse::<i32>().ok());
            assert_eq!(code.map(|c| c & 0xff), Some(14), "SQLITE_CANTOPEN: {db}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[tokio::test]
async fn a_new_sqlite_database_and_its_wal_and_shm_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(dir.path());
    let store = connect(&url).await;
    // A write goes through the WAL, so -wal and -shm exist while it is open.
    ok(store.create_client(&client("a")).await, "create client");
    let mode = |name: &str| {
        let meta = std::fs::metadata(dir.path().join(name)).expect(name);
        meta.permissions().mode() & 0o777
    };
    for name in ["certbound.db", "certbound.db-wal", "certbound.db-shm"] {
        assert_eq!(mode(name), 0o600, "{name}: {:o}", mode(name));
    }
    store.close().await;

    // An existing database keeps its mode (serve warns about it instead),
    // and a second connection still works.
    std::fs::set_permissions(
        dir.path().join("certbound.db"),
        std::fs::Permissions::from_mode(0o640),
    )
    .expect("chmod");
    let store = connect(&url).await;
    assert_eq!(
        kids(&ok(store.signing_keys().await, "keys")).len(),
        0,
        "the same database opened again"
    );
    assert!(ok(store.client("a").await, "client").is_some());
    assert_eq!(mode("certbound.db"), 0o640);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wal_checkpoint_another_connection_blocks_is_reported_not_ignored() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(dir.path());
    let store = connect(&url).await;
    ok(store.create_client(&client("a")).await, "create client");
    ok(
        store.compact_signing_keys().await,
        "compact, nobody else reading",
    );
    let wal = dir.path().join("certbound.db-wal");
    let wal_len = || std::fs::metadata(&wal).expect("WAL file").len();
    assert_eq!(wal_len(), 0, "the checkpoint truncates the WAL");

    // Another process (a running server) mid-read holds a snapshot, so the
    // WAL written after it cannot be checkpointed away.
    let mut reader = sqlx::AnyConnection::connect(&url).await.expect("reader");
    let mut read = reader.begin().await.expect("begin");
    sqlx::query("SELECT COUNT(*) FROM clients")
        .fetch_one(&mut *read)
        .await
        .expect("read");
    ok(store.create_client(&client("b")).await, "create client b");
    let started = Instant::now();
    match store.compact_signing_keys().await {
        Err(StoreError::CheckpointBusy { attempts }) => assert!(attempts > 1),
        other => panic!("a blocked checkpoint: expected CheckpointBusy, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(
        wal_len() > 0,
        "what the checkpoint could not copy stays in the WAL"
    );

    // Once the reader is done, compacting again empties the WAL.
    read.rollback().await.expect("end the read");
    ok(store.compact_signing_keys().await, "compact after the read");
    assert_eq!(wal_len(), 0);
    assert!(ok(store.client("b").await, "client b").is_some());
    reader.close().await.expect("close reader");
    store.close().await;
}
