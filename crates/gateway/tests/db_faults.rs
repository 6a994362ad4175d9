//! The database goes away under load: PostgreSQL behind a link the test
//! cuts (connections dropped, new ones unanswered) while tokens are issued
//! and introspected, at the AS and through a gateway in introspection mode.
//! Only requests during the outage fail, each with 503 and `Retry-After`;
//! every token and revocation the AS acknowledged with 200 at any time
//! (before, during, as the link is cut, as it comes back) is there after
//! recovery, so no 200 ever precedes its commit; both recover without a
//! restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use certbound_server::RunningServer;
use certbound_server::clients::TokenFormat;
use certbound_testkit::config::{MTLS_LISTENER, as_toml};
use certbound_testkit::gateway::{GatewaySetup, start_gateway, start_upstream};
use certbound_testkit::link::CuttableLink;
use certbound_testkit::server::{
    register_introspecting_client, register_tls_client, start_as_from, token,
};
use certbound_testkit::{Curl, TestIdentity, TestPki, TestPostgres, bearer};
use serde_json::Value;
use tokio::sync::Mutex;

/// One response: when its request started and ended, status,
/// `Retry-After`, `error`, and the token it issued or was about.
#[derive(Debug, Clone)]
struct Outcome {
    what: &'static str,
    started: Instant,
    ended: Instant,
    status: u16,
    retry_after: String,
    error: String,
    /// Issued (`token`, on 200) or presented (`revoke`, `introspect`).
    token: String,
}

struct Setup {
    pki: TestPki,
    server: RunningServer,
    gateway_identity: TestIdentity,
}

async fn call(setup: &Setup, what: &'static str, who: &TestIdentity, args: &[&str]) -> Outcome {
    let started = Instant::now();
    let out = Curl::new()
        .headers()
        .status()
        .ca(&setup.pki)
        .identity(Some(who))
        .args(args)
        .run()
        .await;
    let (status, body) = out.status_and_body();
    let json: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    Outcome {
        what,
        started,
        ended: Instant::now(),
        status,
        retry_after: out.header("retry-after"),
        error: json["error"].as_str().unwrap_or_default().to_owned(),
        token: json["access_token"].as_str().unwrap_or_default().to_owned(),
    }
}

/// `who` (client `id`) revokes `token`.
async fn revoke(setup: &Setup, who: &TestIdentity, id: &str, token: &str) -> Outcome {
    let form = format!("client_id={id}&token={token}");
    let mut o = call(
        setup,
        "revoke",
        who,
        &["-d", &form, &mtls(setup, "/revoke")],
    )
    .await;
    o.token = token.to_owned();
    o
}

fn mtls(setup: &Setup, path: &str) -> String {
    format!(
        "{}{path}",
        setup.server.mtls_url.clone().unwrap_or_default()
    )
}

async fn introspect(setup: &Setup, token: &str) -> Value {
    let out = Curl::new()
        .ca(&setup.pki)
        .identity(Some(&setup.gateway_identity))
        .args([
            "-d",
            &format!("client_id=gateway&token={token}"),
            &mtls(setup, "/introspect"),
        ])
        .run()
        .await;
    serde_json::from_str(&out.stdout).unwrap_or(Value::Null)
}

/// What an outage answer must be: 503 `temporarily_unavailable`, `Retry-After`.
fn is_outage_answer(o: &Outcome) -> bool {
    o.status == 503
        && o.error == "temporarily_unavailable"
        && o.retry_after.parse::<u64>().is_ok_and(|s| s >= 1)
}

/// Which client a token belongs to: only its own client revokes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Owner {
    Alice,
    Olive,
}

impl Owner {
    fn id(self) -> &'static str {
        match self {
            Owner::Alice => "alice",
            Owner::Olive => "olive",
        }
    }
}

#[tokio::test]
async fn the_database_going_away_under_load_fails_only_what_runs_meanwhile() {
    let pg = TestPostgres::create();
    let link = CuttableLink::to(pg.server_addr().await).await;
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let toml = as_toml(&pki, &pg.url_through(link.addr()), MTLS_LISTENER, "");
    let server = start_as_from(&toml, dir.path()).await;
    register_tls_client(&server, "alice", "read", TokenFormat::Jwt).await;
    register_tls_client(&server, "olive", "read", TokenFormat::Opaque).await;
    register_introspecting_client(&server, "gateway").await;
    let setup = Arc::new(Setup {
        gateway_identity: pki.simple_client("gateway"),
        pki,
        server,
    });
    let (alice, olive) = (
        setup.pki.simple_client("alice"),
        setup.pki.simple_client("olive"),
    );
    let identity = move |owner: Owner| match owner {
        Owner::Alice => alice.clone(),
        Owner::Olive => olive.clone(),
    };
    let upstream = start_upstream().await;
    let gw_extra = format!(
        "validation = \"introspection\"\nintrospection_client_id = \"gateway\"\ncert = \"{}\"\nkey = \"{}\"\nintrospection_cache_seconds = 1",
        setup.gateway_identity.cert_path.display(),
        setup.gateway_identity.key_path.display()
    );
    let gw_dir = tempfile::tempdir().unwrap();
    let gateway = start_gateway(
        &setup.pki,
        gw_dir.path(),
        &setup.server.issuer,
        GatewaySetup {
            upstream: &upstream,
            extra: &gw_extra,
            policy: None,
            upstream_extra: "",
        },
    )
    .await;
    let api = format!("https://localhost:{}/api/x", gateway.addr.port());

    // Written before the outage: tokens, revocations, a client.
    let (alice, olive) = (identity(Owner::Alice), identity(Owner::Olive));
    let jwt = token(&setup.pki, &setup.server, &alice, "alice").await;
    let opaque = token(&setup.pki, &setup.server, &olive, "olive").await;
    let unused_at_gateway = token(&setup.pki, &setup.server, &olive, "olive").await;
    let revoked_jwt = token(&setup.pki, &setup.server, &alice, "alice").await;
    let revoked_opaque = token(&setup.pki, &setup.server, &olive, "olive").await;
    let mut written_before = Vec::new();
    for (owner, t) in [
        (Owner::Alice, &revoked_jwt),
        (Owner::Olive, &revoked_opaque),
    ] {
        let o = revoke(&setup, &identity(owner), owner.id(), t).await;
        assert_eq!(o.status, 200, "{o:?}");
        written_before.push(o);
    }
    register_tls_client(&setup.server, "carol", "read", TokenFormat::Jwt).await;

    // Load, back to back until stopped: opaque tokens (rows the AS
    // writes), JWTs, revocations of every other one of each, and
    // introspections.
    let outcomes = Arc::new(Mutex::new(Vec::<Outcome>::new()));
    let to_revoke = Arc::new(Mutex::new(VecDeque::<(Owner, String)>::new()));
    let running = Arc::new(AtomicBool::new(true));
    let mut load = Vec::new();
    for worker in ["opaque", "jwt", "revoke", "introspect"] {
        let (setup, outcomes, to_revoke, running) = (
            Arc::clone(&setup),
            Arc::clone(&outcomes),
            Arc::clone(&to_revoke),
            Arc::clone(&running),
        );
        let (identity, opaque) = (identity.clone(), opaque.clone());
        // The revoker never idles: with nothing new to revoke it revokes
        // the last token again, which is a write the AS acknowledges too.
        let mut last_revoked = (Owner::Olive, revoked_opaque.clone());
        load.push(tokio::spawn(async move {
            let mut n = 0u64;
            while running.load(Ordering::SeqCst) {
                let o = match worker {
                    "opaque" | "jwt" => {
                        let owner = if worker == "opaque" {
                            Owner::Olive
                        } else {
                            Owner::Alice
                        };
                        let form =
                            format!("grant_type=client_credentials&client_id={}", owner.id());
                        let o = call(
                            &setup,
                            worker,
                            &identity(owner),
                            &["-d", &form, &mtls(&setup, "/token")],
                        )
                        .await;
                        if o.status == 200 && n % 2 == 1 {
                            to_revoke.lock().await.push_back((owner, o.token.clone()));
                        }
                        o
                    }
                    "revoke" => {
                        if let Some(next) = to_revoke.lock().await.pop_front() {
                            last_revoked = next;
                        }
                        let (owner, t) = &last_revoked;
                        revoke(&setup, &identity(*owner), owner.id(), t).await
                    }
                    _ => {
                        let gateway = setup.gateway_identity.clone();
                        let form = format!("client_id=gateway&token={opaque}");
                        let mut o = call(
                            &setup,
                            "introspect",
                            &gateway,
                            &["-d", &form, &mtls(&setup, "/introspect")],
                        )
                        .await;
                        o.token.clone_from(&opaque);
                        o
                    }
                };
                outcomes.lock().await.push(o);
                n += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    let authorization = bearer(&unused_at_gateway);
    let gateway_call = ["-H", authorization.as_str(), api.as_str()];
    let cut_at = Instant::now();
    link.cut();
    // Through the gateway, a token it has not cached needs the AS, whose
    // database is gone: 503 with Retry-After, not 401.
    let through_gateway = call(&setup, "gateway", &olive, &gateway_call).await;
    assert_eq!(through_gateway.status, 503, "{through_gateway:?}");
    assert!(
        through_gateway
            .retry_after
            .parse::<u64>()
            .is_ok_and(|s| s >= 1),
        "{through_gateway:?}"
    );
    // Long enough for requests to meet the outage (the pool waits 5 s for
    // a connection before it gives up).
    tokio::time::sleep(Duration::from_secs(7)).await;
    let restored_at = Instant::now();
    link.restore();

    // Recovery without a restart: wait for the first success, bounded.
    let deadline = Instant::now() + Duration::from_secs(30);
    let recovered_at = loop {
        let probe = call(
            &setup,
            "introspect",
            &setup.gateway_identity,
            &[
                "-d",
                &format!("client_id=gateway&token={opaque}"),
                &mtls(&setup, "/introspect"),
            ],
        )
        .await;
        if probe.status == 200 {
            break probe.started;
        }
        assert!(is_outage_answer(&probe), "while recovering: {probe:?}");
        assert!(Instant::now() < deadline, "no recovery within 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    running.store(false, Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }

    let outcomes = outcomes.lock().await.clone();
    let before: Vec<_> = outcomes.iter().filter(|o| o.started < cut_at).collect();
    let during: Vec<_> = outcomes
        .iter()
        .filter(|o| o.started >= cut_at && o.started < restored_at)
        .collect();
    let after: Vec<_> = outcomes
        .iter()
        .filter(|o| o.started >= recovered_at)
        .collect();
    let at_cut: Vec<_> = before.iter().filter(|o| o.ended >= cut_at).collect();
    let at_restore: Vec<_> = during.iter().filter(|o| o.ended >= restored_at).collect();
    let answered = |set: &[&&Outcome], status| set.iter().filter(|o| o.status == status).count();
    let answered_503 = |set: &[&Outcome]| set.iter().filter(|o| o.status == 503).count();
    eprintln!(
        "before the cut {}, during {} ({} answered 503), after recovery {}; \
         in flight at the cut {} ({} answered 200), at the restore {} ({} answered 200); \
         recovered {:?} after the restore",
        before.len(),
        during.len(),
        answered_503(&during),
        after.len(),
        at_cut.len(),
        answered(&at_cut, 200),
        at_restore.len(),
        answered(&at_restore, 200),
        recovered_at.saturating_duration_since(restored_at)
    );
    assert!(!before.is_empty() && !after.is_empty(), "{outcomes:#?}");
    assert!(!at_cut.is_empty(), "no request was in flight at the cut");
    for o in before.iter().chain(&after) {
        // A request that started before the cut may end during it.
        let ended_in_outage = o.started < cut_at && is_outage_answer(o);
        assert!(
            o.status == 200 || ended_in_outage,
            "outside the outage: {o:?}"
        );
    }
    // During the outage and while recovering, nothing but 200 or the
    // outage answer: no 500 from a stale pooled connection.
    let unsettled = outcomes
        .iter()
        .filter(|o| o.started >= cut_at && o.started < recovered_at);
    for o in unsettled {
        assert!(
            o.status == 200 || is_outage_answer(o),
            "during the outage or the recovery: {o:?}"
        );
    }
    // Not "jwt": issuing one writes nothing, so during the outage it may
    // succeed from the AS's caches, or wait on a key-set refresh until
    // after the restore.
    for what in ["opaque", "revoke", "introspect"] {
        assert!(
            during.iter().any(|o| o.what == what && is_outage_answer(o)),
            "a {what} request met the outage: {during:#?}"
        );
    }

    // Every acknowledgement holds after recovery: a token the AS answered
    // 200 for is active unless a revocation of it was tried; a revocation
    // it answered 200 for has revoked its token. (A revocation answered
    // 503 may or may not have committed: its token is checked no further.)
    let revocations: Vec<&Outcome> = written_before
        .iter()
        .chain(outcomes.iter().filter(|o| o.what == "revoke"))
        .collect();
    let revoke_tried: HashSet<&str> = revocations.iter().map(|o| o.token.as_str()).collect();
    let revoked: HashSet<&str> = revocations
        .iter()
        .filter(|o| o.status == 200)
        .map(|o| o.token.as_str())
        .collect();
    let issued: Vec<&str> = [
        &jwt,
        &opaque,
        &unused_at_gateway,
        &revoked_jwt,
        &revoked_opaque,
    ]
    .into_iter()
    .map(String::as_str)
    .chain(
        outcomes
            .iter()
            .filter(|o| matches!(o.what, "opaque" | "jwt") && o.status == 200)
            .map(|o| o.token.as_str()),
    )
    .collect();
    let (mut checked_active, mut checked_revoked) = (0, 0);
    for t in &issued {
        assert!(!t.is_empty(), "a 200 token answer without a token");
        let answer = introspect(&setup, t).await;
        if revoked.contains(t) {
            assert_eq!(answer["active"], false, "revoked with 200, yet: {answer}");
            checked_revoked += 1;
        } else if !revoke_tried.contains(t) {
            assert_eq!(answer["active"], true, "issued with 200, yet: {answer}");
            checked_active += 1;
        }
    }
    eprintln!(
        "after recovery: {checked_active} acknowledged tokens active, {checked_revoked} acknowledged revocations in force"
    );
    // A client registered before the outage still gets tokens.
    let carol = setup.pki.simple_client("carol");
    token(&setup.pki, &setup.server, &carol, "carol").await;
    // And the gateway serves the token it could not check during the outage.
    let served = call(&setup, "gateway", &olive, &gateway_call).await;
    assert_eq!(served.status, 200, "{served:?}");
    gateway.stop().await;
}
