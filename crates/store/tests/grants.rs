//! The [`GrantStore`] suite: interactions, consents, codes, grants, refresh
//! tokens and their purge, run unchanged against a SQLite temp file and a
//! fresh PostgreSQL database. PostgreSQL must be running: these tests fail,
//! never skip, without it. The one-winner races are in `grant_races.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use certbound_store::{GrantStore, Rotation, SqlStore, Store, StoreError, StoredUser, UserStore};
use certbound_testkit::{TestPostgres, sqlite_url};
use common::{
    DAY, EVIL, HOUR, NOW, Probe, access, code, grant, interaction, issue_code, issue_code_to,
    issue_grant, issue_grant_to, ok, refresh, run_suite,
};

// ---------------------------------------------------------------- the suite

async fn suite(store: &SqlStore, probe: &Probe) {
    interactions(store).await;
    consents(store).await;
    codes_and_grants(store, probe).await;
    refresh_rotation(store, probe).await;
    joined_reads(store).await;
    purge(store, probe).await;
}

/// The hot-path reads: a code, or a refresh token with its grant, together
/// with whether the user may still get tokens, each in one query.
async fn joined_reads(store: &SqlStore) {
    issue_grant_to(store, "joined", "u-joined", "client-j", NOW + HOUR).await;
    issue_code_to(store, "joined-code-2", "u-joined", "client-j", NOW + HOUR).await;
    let enabled = |e: bool| {
        let mut u = StoredUser {
            user_id: "u-joined".into(),
            username: "joined's \"name\"".into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            display_name: None,
            email: None,
            disabled: false,
            created_at: NOW,
            updated_at: NOW,
        };
        u.disabled = !e;
        u
    };
    // No such user yet: the rows are found, the user is not enabled.
    let found = ok(store.refresh_token_grant("joined-rt").await, "read").unwrap();
    assert_eq!(
        found.token,
        ok(store.refresh_token("joined-rt").await, "rt").unwrap()
    );
    assert_eq!(
        found.grant,
        ok(store.grant("joined").await, "grant").unwrap()
    );
    assert!(!found.user_enabled);
    let code = ok(store.code_for_redemption("joined-code-2").await, "code").unwrap();
    assert_eq!(
        code.code,
        ok(store.code("joined-code-2").await, "code").unwrap()
    );
    assert!(!code.user_enabled);

    ok(store.create_user(&enabled(true)).await, "user");
    assert!(
        ok(store.refresh_token_grant("joined-rt").await, "read")
            .unwrap()
            .user_enabled
    );
    assert!(
        ok(store.code_for_redemption("joined-code-2").await, "read")
            .unwrap()
            .user_enabled
    );
    assert!(ok(store.update_user(&enabled(false)).await, "disable"));
    assert!(
        !ok(store.refresh_token_grant("joined-rt").await, "read")
            .unwrap()
            .user_enabled
    );
    assert!(
        !ok(store.code_for_redemption("joined-code-2").await, "read")
            .unwrap()
            .user_enabled
    );

    assert_eq!(ok(store.refresh_token_grant("unknown").await, "read"), None);
    assert_eq!(ok(store.code_for_redemption("unknown").await, "read"), None);
}

async fn interactions(store: &SqlStore) {
    assert_eq!(ok(store.interaction("i-1").await, "missing"), None);
    let mut i1 = interaction("i-1", NOW + 600);
    i1.request = format!(r#"{{"state":"{EVIL}"}}"#);
    ok(store.create_interaction(&i1).await, "create");
    assert_eq!(ok(store.interaction("i-1").await, "read"), Some(i1.clone()));
    assert_eq!(ok(store.interaction("i-%").await, "pattern"), None);
    let read = || async { ok(store.interaction("i-1").await, "read").expect("i-1") };

    // A rejection ends an interaction once, keeping the error to deliver.
    ok(
        store
            .create_interaction(&interaction("i-rej", NOW + 600))
            .await,
        "create",
    );
    let why = format!(r#"{{"error":"access_denied","error_description":"{EVIL}"}}"#);
    assert!(ok(
        store.reject_interaction("i-rej", NOW + 5, &why).await,
        "reject"
    ));
    let rejected = ok(store.interaction("i-rej").await, "read").expect("i-rej");
    assert_eq!(
        (rejected.completed_at, rejected.rejection),
        (Some(NOW + 5), Some(why))
    );
    assert!(!ok(
        store.reject_interaction("i-rej", NOW + 6, "{}").await,
        "again"
    ));
    assert!(!ok(
        store.complete_interaction("i-rej", NOW + 6, None).await,
        "complete"
    ));
    assert!(!ok(
        store.reject_interaction("nope", NOW, "{}").await,
        "unknown"
    ));

    // Consent needs someone signed in.
    assert!(!ok(
        store.accept_consent("i-1", "openid").await,
        "consent first"
    ));
    assert_eq!(read().await, i1);
    assert!(ok(store.accept_login("i-1", "u-1", NOW + 5).await, "login"));
    assert!(ok(
        store.accept_consent("i-1", "openid profile").await,
        "consent"
    ));
    let mut expected = i1.clone();
    expected.user_id = Some("u-1".to_owned());
    expected.auth_time = Some(NOW + 5);
    expected.consented_scope = Some("openid profile".to_owned());
    assert_eq!(read().await, expected);
    // Signing in again (maybe as someone else) forgets the consent given.
    assert!(ok(
        store.accept_login("i-1", EVIL, NOW + 6).await,
        "relogin"
    ));
    expected.user_id = Some(EVIL.to_owned());
    expected.auth_time = Some(NOW + 6);
    expected.consented_scope = None;
    assert_eq!(read().await, expected);
    assert!(ok(store.accept_consent("i-1", "openid").await, "consent"));
    expected.consented_scope = Some("openid".to_owned());

    assert!(!ok(store.accept_login("nope", "u-1", NOW).await, "unknown"));
    assert!(!ok(store.accept_consent("nope", "openid").await, "unknown"));

    // Completing stores the code with it.
    let c1 = code("code-i-1", NOW + 60);
    assert!(ok(
        store.complete_interaction("i-1", NOW + 10, Some(&c1)).await,
        "complete"
    ));
    expected.completed_at = Some(NOW + 10);
    assert_eq!(read().await, expected);
    assert_eq!(ok(store.code("code-i-1").await, "code"), Some(c1));

    // Single use: nothing changes a completed interaction, and a second
    // completion stores nothing.
    assert!(!ok(
        store.accept_login("i-1", "u-2", NOW + 11).await,
        "login"
    ));
    assert!(!ok(store.accept_consent("i-1", "email").await, "consent"));
    let c2 = code("code-i-1-again", NOW + 60);
    assert!(!ok(
        store.complete_interaction("i-1", NOW + 20, Some(&c2)).await,
        "complete again"
    ));
    assert_eq!(ok(store.code("code-i-1-again").await, "second code"), None);
    assert_eq!(read().await, expected);
    let c3 = code("code-unknown", NOW + 60);
    assert!(!ok(
        store.complete_interaction("nope", NOW, Some(&c3)).await,
        "complete unknown"
    ));
    assert_eq!(ok(store.code("code-unknown").await, "no code"), None);

    // A refused request completes without a code.
    ok(
        store
            .create_interaction(&interaction("i-2", NOW + 600))
            .await,
        "i-2",
    );
    assert!(ok(
        store.complete_interaction("i-2", NOW + 3, None).await,
        "refuse"
    ));
    let i2 = ok(store.interaction("i-2").await, "i-2").expect("i-2");
    assert_eq!(i2.completed_at, Some(NOW + 3));

    // One transaction: a code that cannot be stored leaves the interaction open.
    ok(
        store
            .create_interaction(&interaction("i-3", NOW + 600))
            .await,
        "i-3",
    );
    let taken = code("code-i-1", NOW + 60);
    match store.complete_interaction("i-3", NOW, Some(&taken)).await {
        Err(StoreError::Conflict { .. }) => {}
        other => panic!("code hash taken: expected Conflict, got {other:?}"),
    }
    let i3 = ok(store.interaction("i-3").await, "i-3").expect("i-3");
    assert_eq!(i3.completed_at, None, "rolled back");
}

async fn consents(store: &SqlStore) {
    assert_eq!(ok(store.consent("u-1", "client-a").await, "none"), None);
    ok(
        store.save_consent("u-1", "client-a", "openid", NOW).await,
        "save",
    );
    ok(
        store.save_consent("u-1", EVIL, EVIL, NOW).await,
        "save evil",
    );
    ok(
        store.save_consent("u-2", "client-a", "email", NOW).await,
        "save u-2",
    );
    let scope =
        |u: &'static str, c: &'static str| async move { ok(store.consent(u, c).await, "consent") };
    assert_eq!(scope("u-1", "client-a").await.as_deref(), Some("openid"));
    assert_eq!(scope("u-1", EVIL).await.as_deref(), Some(EVIL));
    assert_eq!(scope("u-2", "client-a").await.as_deref(), Some("email"));
    assert_eq!(scope("u-1", "client-b").await, None);

    ok(
        store
            .save_consent("u-1", "client-a", "openid profile", NOW + 1)
            .await,
        "replace",
    );
    assert_eq!(
        scope("u-1", "client-a").await.as_deref(),
        Some("openid profile")
    );
    assert_eq!(scope("u-2", "client-a").await.as_deref(), Some("email"));

    assert!(ok(store.delete_consent("u-1", "client-a").await, "delete"));
    assert_eq!(scope("u-1", "client-a").await, None);
    assert!(!ok(store.delete_consent("u-1", "client-a").await, "again"));
    assert!(!ok(
        store.delete_consent("u-1", "client-%").await,
        "pattern"
    ));
    assert_eq!(
        scope("u-1", EVIL).await.as_deref(),
        Some(EVIL),
        "others kept"
    );
    assert_eq!(scope("u-2", "client-a").await.as_deref(), Some("email"));
}

async fn codes_and_grants(store: &SqlStore, probe: &Probe) {
    issue_code(store, "code-1", NOW + 60).await;
    let g1 = grant("g-1", NOW + DAY);
    let rt1 = refresh("rt-1", "g-1", NOW + DAY);
    let at = access("g-1-at", NOW + HOUR);
    assert!(ok(
        store
            .redeem_code("code-1", NOW + 30, &g1, &at, Some(&rt1))
            .await,
        "redeem"
    ));
    let mut c1 = code("code-1", NOW + 60);
    c1.redeemed_at = Some(NOW + 30);
    c1.grant_id = Some("g-1".to_owned());
    assert_eq!(ok(store.code("code-1").await, "redeemed"), Some(c1.clone()));
    assert_eq!(ok(store.grant("g-1").await, "grant"), Some(g1.clone()));
    assert_eq!(ok(store.refresh_token("rt-1").await, "rt"), Some(rt1));
    assert_eq!(probe.access_tokens("g-1-at").await, 1);

    // A replay changes nothing.
    let (g2, at2) = (grant("g-2", NOW + DAY), access("g-2-at", NOW + HOUR));
    let rt2 = refresh("rt-2", "g-2", NOW + DAY);
    assert!(!ok(
        store
            .redeem_code("code-1", NOW + 40, &g2, &at2, Some(&rt2))
            .await,
        "replay"
    ));
    assert_eq!(ok(store.code("code-1").await, "code"), Some(c1));
    assert_eq!(ok(store.grant("g-2").await, "loser grant"), None);
    assert_eq!(ok(store.refresh_token("rt-2").await, "loser rt"), None);
    assert_eq!(probe.access_tokens("g-2-at").await, 0);
    assert!(!ok(
        store
            .redeem_code("no-code", NOW, &g2, &at2, Some(&rt2))
            .await,
        "unknown code"
    ));
    assert_eq!(ok(store.grant("g-2").await, "no grant"), None);
    assert_eq!(probe.count("grants", "grant_id", None).await, 1);

    // Without a refresh token.
    issue_code(store, "code-3", NOW + 60).await;
    let g3 = grant("g-3", NOW + DAY);
    let at3 = access("g-3-at", NOW + HOUR);
    assert!(ok(
        store.redeem_code("code-3", NOW, &g3, &at3, None).await,
        "redeem without refresh"
    ));
    assert_eq!(ok(store.grant("g-3").await, "g-3"), Some(g3));
    assert_eq!(
        probe.count("refresh_tokens", "grant_id", Some("g-3")).await,
        0
    );

    // Later access tokens; one has expired by the revocation.
    let record = |jti: &'static str, exp: i64| async move {
        ok(
            store.record_access_token("g-1", &access(jti, exp)).await,
            jti,
        )
    };
    assert!(record("g-1-at-2", NOW + HOUR).await);
    assert!(record("g-1-at-short", NOW + 60).await);
    // Recording takes no write on the grant itself (only a shared lock).
    assert_eq!(ok(store.grant("g-1").await, "g-1").unwrap().used_at, NOW);

    let cursor = ok(store.revoked_jtis_after(0, NOW, 1000).await, "list")
        .last()
        .map_or(0, |r| r.seq);
    assert!(ok(store.revoke_grant("g-1", NOW + 100).await, "revoke"));
    let revoked = ok(store.grant("g-1").await, "g-1").unwrap();
    assert_eq!(revoked.revoked_at, Some(NOW + 100));
    for jti in ["g-1-at", "g-1-at-2"] {
        assert!(ok(store.is_jti_revoked(jti).await, jti), "{jti}");
    }
    for jti in ["g-1-at-short", "g-2-at", "g-3-at"] {
        assert!(!ok(store.is_jti_revoked(jti).await, jti), "{jti}");
    }
    let mut listed: Vec<String> = ok(store.revoked_jtis_after(cursor, NOW + 100, 1000).await, "l")
        .into_iter()
        .map(|r| r.jti)
        .collect();
    listed.sort();
    assert_eq!(listed, ["g-1-at", "g-1-at-2"]);

    // Once only; the grant stays revoked at the first time.
    assert!(!ok(store.revoke_grant("g-1", NOW + 200).await, "again"));
    assert!(!ok(store.revoke_grant("no-grant", NOW).await, "unknown"));
    assert!(!ok(store.revoke_grant(EVIL, NOW).await, "evil"));
    assert_eq!(ok(store.grant("g-1").await, "g-1").unwrap(), revoked);
    let after = ok(store.revoked_jtis_after(cursor, NOW + 100, 1000).await, "l");
    assert_eq!(after.len(), 2);

    // Nothing is recorded under a revoked (or unknown) grant.
    assert!(!record("g-1-at-late", NOW + HOUR).await);
    assert_eq!(probe.access_tokens("g-1-at-late").await, 0);
    assert_eq!(ok(store.grant("g-1").await, "g-1").unwrap(), revoked);
    let unknown = store
        .record_access_token("no-grant", &access("orphan", NOW + HOUR))
        .await;
    assert!(!ok(unknown, "unknown grant"));
    assert_eq!(probe.access_tokens("orphan").await, 0);
    // g-3 is untouched by g-1's revocation.
    assert!(record_on(store, "g-3", "g-3-at-2").await);
    assert_eq!(
        ok(store.grant("g-3").await, "g-3").unwrap().revoked_at,
        None
    );
}

async fn record_on(store: &SqlStore, grant_id: &str, jti: &str) -> bool {
    let recorded = store
        .record_access_token(grant_id, &access(jti, NOW + HOUR))
        .await;
    ok(recorded, "record")
}

async fn refresh_rotation(store: &SqlStore, probe: &Probe) {
    issue_grant(store, "g-r", NOW + DAY).await;
    let next = refresh("g-r-rt-2", "g-r", NOW + DAY);
    let sealed = format!("sealed '{EVIL}' \"response\"");
    let rotated = store
        .rotate_refresh_token(
            "g-r-rt",
            NOW + 100,
            &next,
            Some(&sealed),
            &access("r-at-2", NOW + HOUR),
        )
        .await;
    assert_eq!(ok(rotated, "rotate"), Rotation::Rotated);
    let mut old = refresh("g-r-rt", "g-r", NOW + DAY);
    old.rotated_at = Some(NOW + 100);
    old.successor_hash = Some("g-r-rt-2".to_owned());
    old.sealed_response = Some(sealed);
    assert_eq!(
        ok(store.refresh_token("g-r-rt").await, "old"),
        Some(old.clone())
    );
    assert_eq!(ok(store.refresh_token("g-r-rt-2").await, "new"), Some(next));
    assert_eq!(probe.access_tokens("r-at-2").await, 1);
    let used = ok(store.grant("g-r").await, "g-r").unwrap();
    assert_eq!(used.used_at, NOW + 100);

    // Rotating the old token again changes nothing, not even used_at.
    let late = refresh("g-r-rt-3", "g-r", NOW + DAY);
    let again = store
        .rotate_refresh_token(
            "g-r-rt",
            NOW + 200,
            &late,
            Some("x"),
            &access("r-at-3", NOW + HOUR),
        )
        .await;
    assert_eq!(ok(again, "rotate again"), Rotation::AlreadyRotated);
    assert_eq!(ok(store.refresh_token("g-r-rt-3").await, "loser"), None);
    assert_eq!(ok(store.refresh_token("g-r-rt").await, "old"), Some(old));
    assert_eq!(probe.access_tokens("r-at-3").await, 0);
    assert_eq!(ok(store.grant("g-r").await, "g-r").unwrap(), used);

    // Under a revoked grant nothing rotates.
    assert!(ok(store.revoke_grant("g-r", NOW + 300).await, "revoke"));
    let revoked = ok(store.grant("g-r").await, "g-r").unwrap();
    let refused = store
        .rotate_refresh_token(
            "g-r-rt-2",
            NOW + 400,
            &late,
            None,
            &access("r-at-4", NOW + HOUR),
        )
        .await;
    assert_eq!(ok(refused, "rotate revoked"), Rotation::GrantRevoked);
    assert_eq!(ok(store.refresh_token("g-r-rt-3").await, "none"), None);
    let current = ok(store.refresh_token("g-r-rt-2").await, "current").unwrap();
    assert_eq!((current.rotated_at, current.successor_hash), (None, None));
    assert_eq!(probe.access_tokens("r-at-4").await, 0);
    assert_eq!(ok(store.grant("g-r").await, "g-r").unwrap(), revoked);
    assert!(ok(store.is_jti_revoked("r-at-2").await, "r-at-2"));
}

/// Last: everything the sections above stored expires before `base`.
async fn purge(store: &SqlStore, probe: &Probe) {
    let base = NOW + 100 * DAY;
    ok(store.purge_expired(base).await, "clear earlier sections");
    let (old, live) = (base + 10, base + 1000);

    ok(
        store.create_interaction(&interaction("p-i-old", old)).await,
        "i",
    );
    ok(
        store
            .create_interaction(&interaction("p-i-live", live))
            .await,
        "i",
    );
    issue_grant(store, "p-g-old", old).await; // interaction, code, grant, at, rt
    issue_grant(store, "p-g-live", live).await;
    assert!(ok(
        store
            .record_access_token("p-g-live", &access("p-at-short", old))
            .await,
        "short"
    ));
    let short_rt = refresh("p-rt-short", "p-g-live", old);
    let rotated = store
        .rotate_refresh_token("p-g-live-rt", NOW, &short_rt, None, &access("p-at-2", live))
        .await;
    assert_eq!(ok(rotated, "rotate"), Rotation::Rotated);

    // An expired code nobody redeemed goes at once.
    issue_code(store, "p-code-unused", old).await;

    assert_eq!(ok(store.purge_expired(base).await, "nothing yet"), 0);
    // p-i-old, p-g-old's interaction, grant, access and refresh tokens,
    // p-at-short, p-rt-short, and the unused code with its interaction.
    assert_eq!(ok(store.purge_expired(base + 100).await, "purge"), 9);
    assert_eq!(ok(store.interaction("p-i-old").await, "i"), None);
    assert_eq!(ok(store.interaction("p-g-old-code-i").await, "i"), None);
    assert_eq!(ok(store.code("p-code-unused").await, "code"), None);
    // A redeemed code stays a day past its expiry, so a late replay still
    // finds it and revokes what it issued; then it goes too.
    assert!(ok(store.code("p-g-old-code").await, "code").is_some());
    assert_eq!(ok(store.grant("p-g-old").await, "grant"), None);
    assert_eq!(ok(store.refresh_token("p-g-old-rt").await, "rt"), None);
    assert_eq!(ok(store.refresh_token("p-rt-short").await, "rt"), None);
    assert_eq!(probe.access_tokens("p-g-old-at").await, 0);
    assert_eq!(probe.access_tokens("p-at-short").await, 0);

    assert!(ok(store.interaction("p-i-live").await, "i").is_some());
    assert!(ok(store.interaction("p-g-live-code-i").await, "i").is_some());
    assert!(ok(store.code("p-g-live-code").await, "code").is_some());
    assert!(ok(store.grant("p-g-live").await, "grant").is_some());
    assert!(ok(store.refresh_token("p-g-live-rt").await, "rt").is_some());
    assert_eq!(probe.access_tokens("p-g-live-at").await, 1);
    assert_eq!(probe.access_tokens("p-at-2").await, 1);
    assert_eq!(ok(store.purge_expired(base + 100).await, "again"), 0);
    assert_eq!(ok(store.purge_expired(old + DAY - 1).await, "a day"), 6);
    assert!(ok(store.code("p-g-old-code").await, "code").is_some());
    ok(store.purge_expired(old + DAY + 1).await, "a day later");
    assert_eq!(ok(store.code("p-g-old-code").await, "code"), None);
}

// ---------------------------------------------------------------- backends

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_file_grants() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(dir.path());
    // The probe opens the database once the store has created it.
    run_suite(&url, "sqlite", async |store| {
        suite(store, &Probe::new(&url).await).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_grants() {
    let db = TestPostgres::create();
    let url = db.url();
    run_suite(&url, "postgres", async |store| {
        suite(store, &Probe::new(&url).await).await;
    })
    .await;
}
