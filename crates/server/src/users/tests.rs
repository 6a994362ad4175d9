#![allow(clippy::unwrap_used, clippy::expect_used)]

use certbound_store::{SqlStore, Store, StoredUser, UserStore};

use super::*;

async fn store() -> SqlStore {
    SqlStore::connect("sqlite::memory:").await.unwrap()
}

fn alice(password: &str) -> NewUser {
    NewUser {
        username: "alice".into(),
        display_name: Some("Alice Liddell".into()),
        email: Some("alice@example.com".into()),
        password: password.into(),
    }
}

async fn stored(store: &dyn Store, username: &str) -> StoredUser {
    store.user_by_username(username).await.unwrap().unwrap()
}

#[tokio::test]
async fn add_stores_a_hash_and_a_random_stable_id() {
    let store = store().await;
    let user = add_user(&store, alice("rabbit-hole")).await.unwrap();
    assert_eq!(user.username, "alice");
    assert_eq!(user.user_id.len(), 22, "128 bits, base64url");
    assert!(user.password_hash.starts_with("$argon2id$"));
    assert!(!user.password_hash.contains("rabbit-hole"));
    assert_eq!(stored(&store, "alice").await, user);

    let again = add_user(&store, alice("another-one")).await.unwrap_err();
    assert!(matches!(again, ServerError::UserExists { .. }), "{again}");
    assert_eq!(
        again.to_string(),
        "user 'alice' already exists; pick another --username"
    );

    // The id survives a password change; only the hash and updated_at move.
    let changed = set_password(&store, "alice", "looking-glass")
        .await
        .unwrap();
    assert_eq!(changed.user_id, user.user_id);
    assert_ne!(changed.password_hash, user.password_hash);
    let bob = add_user(
        &store,
        NewUser {
            username: "bob".into(),
            display_name: None,
            email: None,
            password: "bob-password".into(),
        },
    )
    .await
    .unwrap();
    assert_ne!(bob.user_id, user.user_id);
}

#[tokio::test]
async fn invalid_fields_are_refused_before_anything_is_written() {
    let store = store().await;
    let cases = [
        (
            NewUser {
                username: "a b".into(),
                ..alice("long enough")
            },
            UserField::Username,
        ),
        (
            NewUser {
                email: Some("alice".into()),
                ..alice("long enough")
            },
            UserField::Email,
        ),
        (
            NewUser {
                display_name: Some(" ".into()),
                ..alice("long enough")
            },
            UserField::DisplayName,
        ),
        (alice("short"), UserField::Password),
    ];
    for (new, field) in cases {
        match add_user(&store, new).await {
            Err(ServerError::InvalidUser(e)) => assert_eq!(e.field, field),
            other => panic!("{field:?}: {other:?}"),
        }
    }
    assert!(store.users().await.unwrap().is_empty());
    let short = set_password(&store, "alice", "short").await.unwrap_err();
    assert!(matches!(short, ServerError::InvalidUser(_)), "{short}");
}

#[tokio::test]
async fn login_accepts_the_password_and_refuses_with_a_reason() {
    let store = store().await;
    let user = add_user(&store, alice("rabbit-hole")).await.unwrap();
    assert_eq!(
        check_login(&store, "alice", "rabbit-hole").await.unwrap(),
        LoginCheck::Accepted(user.clone())
    );
    assert_eq!(
        check_login(&store, "alice", "rabbit-holE").await.unwrap(),
        LoginCheck::Refused(LoginRefusal::WrongPassword)
    );
    assert_eq!(
        check_login(&store, "nobody", "rabbit-hole").await.unwrap(),
        LoginCheck::Refused(LoginRefusal::UnknownUser)
    );
    set_disabled(&store, "alice", true).await.unwrap();
    assert_eq!(
        check_login(&store, "alice", "rabbit-hole").await.unwrap(),
        LoginCheck::Refused(LoginRefusal::Disabled)
    );
    assert_eq!(
        check_login(&store, "alice", "wrong-password")
            .await
            .unwrap(),
        LoginCheck::Refused(LoginRefusal::WrongPassword),
        "a disabled user's status is told only to who knows the password"
    );
    set_disabled(&store, "alice", false).await.unwrap();
    assert!(matches!(
        check_login(&store, "alice", "rabbit-hole").await.unwrap(),
        LoginCheck::Accepted(_)
    ));
    let removed = remove_user(&store, "alice").await.unwrap();
    assert_eq!(removed.user_id, user.user_id);
    assert_eq!(
        check_login(&store, "alice", "rabbit-hole").await.unwrap(),
        LoginCheck::Refused(LoginRefusal::UnknownUser)
    );
    for missing in [
        remove_user(&store, "alice").await.unwrap_err(),
        set_disabled(&store, "alice", true).await.unwrap_err(),
        set_password(&store, "alice", "long enough")
            .await
            .unwrap_err(),
    ] {
        assert_eq!(
            missing.to_string(),
            "no user 'alice'; `certbound users list` shows who exists"
        );
    }
}

#[tokio::test]
async fn usernames_are_matched_in_nfc() {
    let store = store().await;
    let mut new = alice("rabbit-hole");
    new.username = "Zoe\u{308}".into();
    let user = add_user(&store, new).await.unwrap();
    assert_eq!(user.username, "Zo\u{eb}");
    assert!(matches!(
        check_login(&store, "Zoe\u{308}", "rabbit-hole")
            .await
            .unwrap(),
        LoginCheck::Accepted(_)
    ));
    assert_eq!(
        find_user(&store, "Zo\u{eb}").await.unwrap().user_id,
        user.user_id
    );
}

#[tokio::test]
async fn a_weaker_hash_is_upgraded_on_a_successful_login_only() {
    let store = store().await;
    let user = add_user(&store, alice("rabbit-hole")).await.unwrap();
    let weak = password::hash_with("rabbit-hole", (8, 1, 1)).unwrap();
    store
        .update_user(&StoredUser {
            password_hash: weak.clone(),
            ..user.clone()
        })
        .await
        .unwrap();

    // A wrong password changes nothing.
    assert_eq!(
        check_login(&store, "alice", "not-it").await.unwrap(),
        LoginCheck::Refused(LoginRefusal::WrongPassword)
    );
    assert_eq!(stored(&store, "alice").await.password_hash, weak);

    let LoginCheck::Accepted(accepted) = check_login(&store, "alice", "rabbit-hole").await.unwrap()
    else {
        panic!("the weak hash still verifies");
    };
    let upgraded = stored(&store, "alice").await.password_hash;
    assert_eq!(accepted.password_hash, upgraded);
    assert!(
        upgraded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{upgraded}"
    );
    assert!(!needs_rehash(&upgraded));
    assert_eq!(accepted.user_id, user.user_id);
    // And it still verifies; a current hash is left alone.
    assert!(matches!(
        check_login(&store, "alice", "rabbit-hole").await.unwrap(),
        LoginCheck::Accepted(_)
    ));
    assert_eq!(stored(&store, "alice").await.password_hash, upgraded);
}

#[tokio::test]
async fn an_unknown_user_costs_a_full_hash_check() {
    let store = store().await;
    add_user(&store, alice("rabbit-hole")).await.unwrap();
    // Warm up, then compare: the unknown-user path runs the dummy Argon2id
    // check, so it cannot be much faster than a wrong password.
    let _ = check_login(&store, "alice", "x").await.unwrap();
    let time = |username: &'static str| {
        let store = store.clone();
        async move {
            // The fastest of three, so a busy machine does not decide.
            let mut best = std::time::Duration::MAX;
            for _ in 0..3 {
                let start = std::time::Instant::now();
                let _ = check_login(&store, username, "wrong-password")
                    .await
                    .unwrap();
                best = best.min(start.elapsed());
            }
            best
        }
    };
    let known = time("alice").await;
    let unknown = time("nobody").await;
    let floor = std::time::Duration::from_millis(2);
    assert!(
        unknown * 3 > known && unknown > floor,
        "unknown {unknown:?} vs known {known:?}"
    );
}
