//! The database goes away under load: PostgreSQL behind a link the test
//! cuts (connections dropped, new ones unanswered) while tokens are issued
//! and introspected, at the AS and through a gateway in introspection mode.
//! Only requests during the outage fail, each with 503 and `Retry-After`;
//! nothing written before it is lost; both recover without a restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

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

/// One response: when its request started, status, `Retry-After`, `error`.
#[derive(Debug, Clone)]
struct Outcome {
    what: &'static str,
    started: Instant,
    status: u16,
    retry_after: String,
    error: String,
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
        status,
        retry_after: out.header("retry-after"),
        error: json["error"].as_str().unwrap_or_default().to_owned(),
    }
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

#[tokio::test]
async fn the_database_going_away_under_load_fails_only_what_runs_meanwhile() {
    let pg = TestPostgres::create();
    let link = CuttableLink::to("127.0.0.1:5432".parse().unwrap()).await;
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
    let jwt = token(&setup.pki, &setup.server, &alice, "alice").await;
    let opaque = token(&setup.pki, &setup.server, &olive, "olive").await;
    let unused_at_gateway = token(&setup.pki, &setup.server, &olive, "olive").await;
    let revoked_jwt = token(&setup.pki, &setup.server, &alice, "alice").await;
    let revoked_opaque = token(&setup.pki, &setup.server, &olive, "olive").await;
    for (who, id, t) in [
        (&alice, "alice", &revoked_jwt),
        (&olive, "olive", &revoked_opaque),
    ] {
        let revoke = call(
            &setup,
            "revoke",
            who,
            &[
                "-d",
                &format!("client_id={id}&token={t}"),
                &mtls(&setup, "/revoke"),
            ],
        )
        .await;
        assert_eq!(revoke.status, 200, "{revoke:?}");
    }
    register_tls_client(&setup.server, "carol", "read", TokenFormat::Jwt).await;

    // Load: token requests and introspections, back to back, until stopped.
    let outcomes = Arc::new(Mutex::new(Vec::<Outcome>::new()));
    let running = Arc::new(AtomicBool::new(true));
    let mut load = Vec::new();
    for worker in 0..2 {
        let (setup, outcomes, running) = (
            Arc::clone(&setup),
            Arc::clone(&outcomes),
            Arc::clone(&running),
        );
        let (alice, opaque) = (alice.clone(), opaque.clone());
        load.push(tokio::spawn(async move {
            while running.load(Ordering::SeqCst) {
                let o = if worker == 0 {
                    call(
                        &setup,
                        "token",
                        &alice,
                        &[
                            "-d",
                            "grant_type=client_credentials&client_id=alice",
                            &mtls(&setup, "/token"),
                        ],
                    )
                    .await
                } else {
                    let gateway = setup.gateway_identity.clone();
                    call(
                        &setup,
                        "introspect",
                        &gateway,
                        &[
                            "-d",
                            &format!("client_id=gateway&token={opaque}"),
                            &mtls(&setup, "/introspect"),
                        ],
                    )
                    .await
                };
                outcomes.lock().await.push(o);
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
    let answered_503 = |set: &[&Outcome]| set.iter().filter(|o| o.status == 503).count();
    eprintln!(
        "before the cut {}, during {} ({} answered 503), after recovery {}; recovered {:?} after the restore",
        before.len(),
        during.len(),
        answered_503(&during),
        after.len(),
        recovered_at.saturating_duration_since(restored_at)
    );
    assert!(!before.is_empty() && !after.is_empty(), "{outcomes:#?}");
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
    for what in ["token", "introspect"] {
        assert!(
            during.iter().any(|o| o.what == what && is_outage_answer(o)),
            "a {what} request met the outage: {during:#?}"
        );
    }

    // Everything written before the outage is still there.
    assert_eq!(introspect(&setup, &jwt).await["active"], true);
    assert_eq!(introspect(&setup, &opaque).await["active"], true);
    assert_eq!(introspect(&setup, &revoked_jwt).await["active"], false);
    assert_eq!(introspect(&setup, &revoked_opaque).await["active"], false);
    let carol = setup.pki.simple_client("carol");
    token(&setup.pki, &setup.server, &carol, "carol").await;
    // And the gateway serves the token it could not check during the outage.
    let served = call(&setup, "gateway", &olive, &gateway_call).await;
    assert_eq!(served.status, 200, "{served:?}");
    gateway.stop().await;
}
