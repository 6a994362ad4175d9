//! The [`UserStore`] suite, run unchanged against a SQLite temp file and a
//! fresh PostgreSQL database. PostgreSQL must be running: these tests fail,
//! never skip, without it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use certbound_store::{
    GrantStore, Rotation, SqlStore, Store, StoreError, StoredUser, Taken, UserStore,
};
use certbound_testkit::{TestPostgres, sqlite_url};
use common::{DAY, HOUR, NOW, access, issue_grant_to, ok, refresh, run_suite};

/// SQL metacharacters in a value: only parameterised SQL round-trips it.
const EVIL: &str = "o'brien\"; DROP TABLE users; --";

// ---------------------------------------------------------------- helpers

fn user(user_id: &str, username: &str) -> StoredUser {
    StoredUser {
        user_id: user_id.to_owned(),
        username: username.to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        display_name: Some(format!("{username} 'the' \"user\"")),
        email: Some(format!("{user_id}+a%b_c@example.com")),
        disabled: false,
        created_at: NOW,
        updated_at: NOW,
    }
}

fn names(users: &[StoredUser]) -> Vec<&str> {
    users.iter().map(|u| u.username.as_str()).collect()
}

fn expect_username_taken(r: Result<impl std::fmt::Debug, StoreError>, name: &str, what: &str) {
    match r {
        Err(StoreError::Conflict {
            taken: Taken::Username(taken),
            source: Some(_),
        }) => assert_eq!(taken, name, "{what}"),
        other => panic!("{what}: expected Conflict on username {name:?}, got {other:?}"),
    }
}

// ---------------------------------------------------------------- the suite

async fn suite(store: &SqlStore) {
    create_and_read(store).await;
    update(store).await;
    delete(store).await;
}

async fn create_and_read(store: &SqlStore) {
    assert!(ok(store.users().await, "no users").is_empty());
    assert_eq!(ok(store.user("u-bob").await, "missing"), None);

    let bob = user("u-bob", "bob");
    let mut alice = user("u-alice", "alice");
    alice.display_name = None;
    alice.email = None;
    let mut zed = user("u-zed", "Zed");
    zed.disabled = true;
    let evil = user(EVIL, EVIL);
    let unicode = user("u-élodie", "élodie-🔑");
    for u in [&bob, &alice, &zed, &evil, &unicode] {
        ok(store.create_user(u).await, "create");
    }

    assert_eq!(ok(store.user("u-bob").await, "by id"), Some(bob.clone()));
    assert_eq!(ok(store.user("u-zed").await, "disabled"), Some(zed.clone()));
    assert_eq!(
        ok(store.user_by_username("alice").await, "by name"),
        Some(alice)
    );
    assert_eq!(ok(store.user(EVIL).await, "evil id"), Some(evil.clone()));
    assert_eq!(
        ok(store.user_by_username(EVIL).await, "evil name"),
        Some(evil)
    );
    assert_eq!(
        ok(store.user_by_username("élodie-🔑").await, "unicode"),
        Some(unicode)
    );
    // Exact matches only: no pattern, no case folding, no prefix.
    for miss in ["u-%", "u-bob ", "U-BOB", "o'"] {
        assert_eq!(ok(store.user(miss).await, "id miss"), None, "{miss:?}");
    }
    for miss in ["ali%", "Alice", "bob'--", "zed"] {
        assert_eq!(
            ok(store.user_by_username(miss).await, "name miss"),
            None,
            "{miss:?}"
        );
    }

    // Byte order on both backends, whatever PostgreSQL's collation.
    let users = ok(store.users().await, "list");
    assert_eq!(names(&users), ["Zed", "alice", "bob", EVIL, "élodie-🔑"]);

    let mut dup = user("u-bob-2", "bob");
    expect_username_taken(store.create_user(&dup).await, "bob", "duplicate");
    dup.username = EVIL.to_owned();
    expect_username_taken(store.create_user(&dup).await, EVIL, "duplicate evil");
    // The failed inserts changed nothing.
    assert_eq!(ok(store.user("u-bob-2").await, "not created"), None);
    assert_eq!(ok(store.user("u-bob").await, "bob intact"), Some(bob));
    assert_eq!(ok(store.users().await, "list").len(), 5);
}

/// After `create_and_read`.
async fn update(store: &SqlStore) {
    let mut bob = ok(store.user("u-bob").await, "bob").expect("bob");
    bob.password_hash = "$argon2id$v=19$m=65536,t=3,p=4$bmV3$bmV3".to_owned();
    bob.display_name = Some("Robert'); DROP TABLE users; --".to_owned());
    bob.email = None;
    bob.disabled = true;
    bob.updated_at = NOW + 10;
    assert!(ok(store.update_user(&bob).await, "update"));
    assert_eq!(ok(store.user("u-bob").await, "updated"), Some(bob.clone()));

    // A rename keeps the id; the old name is free again.
    bob.username = "robert".to_owned();
    bob.disabled = false;
    bob.updated_at = NOW + 20;
    // created_at is the creation time: an update does not move it.
    let mut sent = bob.clone();
    sent.created_at = NOW + 99;
    assert!(ok(store.update_user(&sent).await, "rename"));
    assert_eq!(ok(store.user("u-bob").await, "renamed"), Some(bob.clone()));
    assert_eq!(ok(store.user_by_username("bob").await, "old name"), None);
    assert_eq!(
        ok(store.user_by_username("robert").await, "new name"),
        Some(bob.clone())
    );
    ok(
        store.create_user(&user("u-bob-2", "bob")).await,
        "reuse name",
    );

    // Renaming onto a taken name fails and changes nothing.
    let mut clash = bob.clone();
    clash.username = "alice".to_owned();
    clash.display_name = None;
    clash.updated_at = NOW + 30;
    expect_username_taken(store.update_user(&clash).await, "alice", "rename clash");
    assert_eq!(ok(store.user("u-bob").await, "unchanged"), Some(bob));
    assert_eq!(
        ok(store.user_by_username("alice").await, "alice").map(|u| u.user_id),
        Some("u-alice".to_owned())
    );

    // An unknown id is not created by an update.
    let ghost = user("u-ghost", "ghost");
    assert!(!ok(store.update_user(&ghost).await, "update unknown"));
    assert_eq!(ok(store.user("u-ghost").await, "no upsert"), None);
    assert_eq!(ok(store.user_by_username("ghost").await, "no upsert"), None);
}

/// Deleting a user forgets their consents and revokes their grants (and so
/// their access tokens, through the revocation list, and refresh tokens);
/// other users' are untouched.
async fn delete(store: &SqlStore) {
    ok(store.create_user(&user("u-carol", "carol")).await, "carol");
    ok(store.create_user(&user("u-dave", "dave")).await, "dave");
    for client in ["client-a", EVIL] {
        let saved = store.save_consent("u-carol", client, "openid", NOW).await;
        ok(saved, "consent");
    }
    ok(
        store
            .save_consent("u-dave", "client-a", "openid", NOW)
            .await,
        "dave consent",
    );
    issue_grant_to(store, "carol-1", "u-carol", "client-a", NOW + DAY).await;
    issue_grant_to(store, "carol-2", "u-carol", EVIL, NOW + DAY).await;
    issue_grant_to(store, "carol-old", "u-carol", "client-a", NOW + DAY).await;
    issue_grant_to(store, "dave-1", "u-dave", "client-a", NOW + DAY).await;
    let more = access("carol-1-at-2", NOW + HOUR);
    assert!(ok(
        store.record_access_token("carol-1", &more).await,
        "record"
    ));
    // Expired by the time of the deletion: not worth listing.
    let expired = access("carol-1-at-expired", NOW + 50);
    assert!(ok(
        store.record_access_token("carol-1", &expired).await,
        "record expired"
    ));
    // Revoked before: keeps its first revocation time.
    assert!(ok(
        store.revoke_grant("carol-old", NOW + 7).await,
        "revoke old"
    ));
    let listed_before = ok(store.revoked_jtis_after(0, NOW, 100).await, "list").len();

    assert!(ok(store.delete_user("u-carol", NOW + 100).await, "delete"));
    assert_eq!(ok(store.user("u-carol").await, "gone"), None);
    assert_eq!(ok(store.user_by_username("carol").await, "gone"), None);
    for client in ["client-a", EVIL] {
        assert_eq!(
            ok(store.consent("u-carol", client).await, "consent gone"),
            None
        );
    }
    let revoked_at =
        |id: &'static str| async move { ok(store.grant(id).await, "grant").expect(id).revoked_at };
    assert_eq!(revoked_at("carol-1").await, Some(NOW + 100));
    assert_eq!(revoked_at("carol-2").await, Some(NOW + 100));
    assert_eq!(revoked_at("carol-old").await, Some(NOW + 7));
    for jti in ["carol-1-at", "carol-1-at-2", "carol-2-at", "carol-old-at"] {
        assert!(
            ok(store.is_jti_revoked(jti).await, "jti"),
            "{jti} not revoked"
        );
    }
    assert!(!ok(
        store.is_jti_revoked("carol-1-at-expired").await,
        "expired"
    ));
    let listed = ok(store.revoked_jtis_after(0, NOW + 100, 100).await, "list");
    assert_eq!(listed.len(), listed_before + 3, "{listed:?}");
    // Their refresh tokens no longer rotate.
    let successor = refresh("carol-1-rt-next", "carol-1", NOW + DAY);
    let at = access("carol-1-at-3", NOW + HOUR);
    let rotation = store
        .rotate_refresh_token("carol-1-rt", NOW + 200, &successor, None, &at)
        .await;
    assert_eq!(ok(rotation, "rotate"), Rotation::GrantRevoked);

    // Dave keeps his consent, grant and token.
    assert_eq!(
        ok(store.consent("u-dave", "client-a").await, "dave consent"),
        Some("openid".to_owned())
    );
    assert_eq!(revoked_at("dave-1").await, None);
    assert!(!ok(store.is_jti_revoked("dave-1-at").await, "dave jti"));

    assert!(!ok(store.delete_user("u-carol", NOW + 200).await, "again"));
    assert!(!ok(store.delete_user("u-nobody", NOW).await, "unknown"));
    assert!(!ok(store.delete_user("u-%", NOW).await, "pattern"));
    assert_eq!(revoked_at("carol-1").await, Some(NOW + 100), "kept");
    assert!(ok(store.delete_user(EVIL, NOW).await, "delete evil"));
    assert_eq!(ok(store.user(EVIL).await, "evil gone"), None);
    assert_eq!(
        names(&ok(store.users().await, "list")),
        ["Zed", "alice", "bob", "dave", "robert", "élodie-🔑"]
    );
}

// ---------------------------------------------------------------- backends

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_file_users() {
    let dir = tempfile::tempdir().expect("temp dir");
    run_suite(&sqlite_url(dir.path()), "sqlite", suite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_users() {
    let db = TestPostgres::create();
    run_suite(&db.url(), "postgres", suite).await;
}
