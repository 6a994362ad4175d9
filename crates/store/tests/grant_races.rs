//! One-winner races over two pools ("instances") on one database: code
//! issue (a consent form submitted many times at once), code redemption,
//! refresh token rotation, and access tokens recorded while the grant is
//! revoked. Run on a SQLite temp file and a fresh PostgreSQL
//! database; PostgreSQL must be running: these tests fail, never skip,
//! without it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use certbound_store::{GrantStore, Rotation, SqlStore, Store};
use certbound_testkit::{TestPostgres, sqlite_url};
use common::{
    DAY, HOUR, NOW, Probe, access, code, connect, grant, interaction, issue_code, ok, refresh,
};

const RACERS: usize = 20;

/// Waits for every racer of a one-winner race (each answers whether its
/// `op` won) and returns the only one that did; an error fails the test.
async fn the_one_winner<E: std::fmt::Debug + 'static>(
    mut tasks: tokio::task::JoinSet<(usize, Result<bool, E>)>,
    op: &str,
) -> usize {
    let mut winners = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("join") {
            (i, Ok(true)) => winners.push(i),
            (_, Ok(false)) => {}
            (i, Err(e)) => panic!("racer {i}: {op} failed: {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one {op} wins: {winners:?}");
    winners[0]
}

/// 20 tasks over two pools ("instances") redeem one code: one wins.
async fn race_redeem(a: &SqlStore, b: &SqlStore, probe: &Probe) -> usize {
    issue_code(a, "race-code", NOW + 60).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..RACERS {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.spawn(async move {
            let g = grant(&format!("race-g-{i}"), NOW + DAY);
            let rt = refresh(&format!("race-rt-{i}"), &g.grant_id, NOW + DAY);
            let at = access(&format!("race-at-{i}"), NOW + HOUR);
            let result = store
                .redeem_code("race-code", NOW, &g, &at, Some(&rt))
                .await;
            (i, result)
        });
    }
    let winner = the_one_winner(tasks, "redeem_code").await;
    let redeemed = ok(a.code("race-code").await, "code").unwrap();
    assert_eq!(redeemed.grant_id, Some(format!("race-g-{winner}")));
    for i in 0..RACERS {
        let stored = ok(b.grant(&format!("race-g-{i}")).await, "grant").is_some();
        assert_eq!(stored, i == winner, "grant of racer {i}");
        let rt = ok(b.refresh_token(&format!("race-rt-{i}")).await, "rt");
        assert_eq!(rt.is_some(), i == winner, "refresh token of racer {i}");
    }
    assert_eq!(probe.count("grants", "grant_id", None).await, 1);
    assert_eq!(probe.count("refresh_tokens", "token_hash", None).await, 1);
    assert_eq!(probe.count("grant_access_tokens", "jti", None).await, 1);
    winner
}

/// 20 tasks rotate the winner's refresh token, each with its own successor.
async fn race_rotate(a: &SqlStore, b: &SqlStore, probe: &Probe, winner: usize) {
    let (grant_id, old) = (format!("race-g-{winner}"), format!("race-rt-{winner}"));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..RACERS {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (grant_id, old) = (grant_id.clone(), old.clone());
        tasks.spawn(async move {
            let next = refresh(&format!("next-rt-{i}"), &grant_id, NOW + DAY);
            let at = access(&format!("next-at-{i}"), NOW + HOUR);
            let sealed = format!("sealed-{i}");
            let result = store
                .rotate_refresh_token(&old, NOW + 1, &next, Some(&sealed), &at)
                .await;
            (i, result)
        });
    }
    let mut rotated = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("join") {
            (i, Ok(Rotation::Rotated)) => rotated.push(i),
            (_, Ok(Rotation::AlreadyRotated)) => {}
            (i, other) => panic!("racer {i}: expected Rotated or AlreadyRotated, got {other:?}"),
        }
    }
    assert_eq!(rotated.len(), 1, "exactly one rotation wins: {rotated:?}");
    let won = rotated[0];
    let old_row = ok(a.refresh_token(&old).await, "old").unwrap();
    assert_eq!(old_row.successor_hash, Some(format!("next-rt-{won}")));
    assert_eq!(old_row.sealed_response, Some(format!("sealed-{won}")));
    for i in 0..RACERS {
        let stored = ok(b.refresh_token(&format!("next-rt-{i}")).await, "rt").is_some();
        assert_eq!(stored, i == won, "successor of racer {i}");
        assert_eq!(
            probe.access_tokens(&format!("next-at-{i}")).await,
            i64::from(i == won)
        );
    }
    assert_eq!(
        probe
            .count("refresh_tokens", "grant_id", Some(&grant_id))
            .await,
        2
    );
}

/// Access tokens recorded while the grant is revoked from the other pool:
/// every one recorded is on the revocation list, none escapes it.
async fn race_record_and_revoke(a: &SqlStore, b: &SqlStore, winner: usize) {
    let grant_id = format!("race-g-{winner}");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..RACERS {
        let (store, grant_id) = (a.clone(), grant_id.clone());
        tasks.spawn(async move {
            let jti = format!("late-at-{i}");
            let recorded = store
                .record_access_token(&grant_id, &access(&jti, NOW + HOUR))
                .await;
            (jti, recorded)
        });
    }
    let revoked = b.revoke_grant(&grant_id, NOW + 2).await;
    assert!(ok(revoked, "concurrent revoke"));
    while let Some(joined) = tasks.join_next().await {
        let (jti, recorded) = joined.expect("join");
        let recorded = recorded.unwrap_or_else(|e| panic!("record {jti}: {e:?}"));
        let listed = ok(a.is_jti_revoked(&jti).await, "listed");
        assert_eq!(
            listed, recorded,
            "{jti}: recorded {recorded}, revoked {listed}"
        );
    }
}

/// 20 tasks complete one interaction, each with its own code (a consent
/// form submitted many times at once): one wins, and only its code exists.
async fn race_complete(a: &SqlStore, b: &SqlStore, probe: &Probe) {
    let i = interaction("race-i", NOW + 600);
    ok(a.create_interaction(&i).await, "interaction");
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..RACERS {
        let store = if n % 2 == 0 { a.clone() } else { b.clone() };
        tasks.spawn(async move {
            let c = code(&format!("race-i-code-{n}"), NOW + 60);
            (n, store.complete_interaction("race-i", NOW, Some(&c)).await)
        });
    }
    let winner = the_one_winner(tasks, "complete_interaction").await;
    for n in 0..RACERS {
        let stored = ok(b.code(&format!("race-i-code-{n}")).await, "code").is_some();
        assert_eq!(stored, n == winner, "code of racer {n}");
    }
    assert_eq!(
        probe.count("authorization_codes", "code_hash", None).await,
        2,
        "the winner's code and the one race_redeem issued"
    );
}

async fn races(a: &SqlStore, b: &SqlStore, probe: &Probe) {
    let winner = race_redeem(a, b, probe).await;
    race_complete(a, b, probe).await;
    race_rotate(a, b, probe, winner).await;
    race_record_and_revoke(a, b, winner).await;
}

// ---------------------------------------------------------------- backends

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_file_grant_races() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(dir.path());
    let (a, b) = (connect(&url).await, connect(&url).await);
    races(&a, &b, &Probe::new(&url).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_grant_races() {
    let db = TestPostgres::create();
    let (a, b) = (connect(&db.url()).await, connect(&db.url()).await);
    races(&a, &b, &Probe::new(&db.url()).await).await;
}
