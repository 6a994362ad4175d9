//! Rate limits at the endpoints where clients authenticate, over real TLS
//! with curl: 429 `slow_down` with `Retry-After` past a budget, failures
//! costing the address more, and an intruder failing under a client's id from
//! another address (127.0.0.2) unable to lock the real client out.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use base64::Engine;
use std::time::Duration;

use certbound_core::AuthMethod;
use certbound_core::ManualClock;
use certbound_server::clients::{ClientMetadata, TokenFormat};
use certbound_server::{Config, RunningServer};
use certbound_testkit::server::register_tls_client;
use certbound_testkit::{Curl, TestIdentity, TestPki};
use serde_json::Value;

/// Budgets small enough to reach: an address gets 6 requests, a client 3,
/// a failure costs 3; time moves only when the test says so.
const LIMITS: &str = "[rate_limits]\naddress_per_second = 1\naddress_burst = 6\n\
                      client_per_second = 1\nclient_burst = 3\nfailure_cost = 3";

struct Limited {
    pki: TestPki,
    _dir: tempfile::TempDir,
    server: RunningServer,
    clock: Arc<ManualClock>,
}

async fn start() -> Limited {
    start_with_config("").await
}

/// As [`start`], with more configuration after the limits.
async fn start_with_config(extra: &str) -> Limited {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let toml = certbound_testkit::config::as_toml(
        &pki,
        &certbound_testkit::sqlite_url(dir.path()),
        certbound_testkit::config::MTLS_LISTENER,
        &format!("{LIMITS}\n{extra}"),
    );
    let config = Config::from_toml(&toml, &dir.path().join("certbound.toml"), Vec::new()).unwrap();
    let clock = Arc::new(ManualClock::new());
    let server = certbound_server::start_with_clock(config, Arc::clone(&clock) as _)
        .await
        .unwrap();
    for id in ["alice", "bob"] {
        register_tls_client(&server, id, "read", TokenFormat::Jwt).await;
    }
    Limited {
        pki,
        _dir: dir,
        server,
        clock,
    }
}

/// A limited AS with alice's certificate and `other`'s.
async fn start_with(other: &str) -> (Limited, TestIdentity, TestIdentity) {
    let l = start().await;
    let (alice, other) = (l.pki.simple_client("alice"), l.pki.simple_client(other));
    (l, alice, other)
}

/// A token request for `client_id` with `who`'s certificate, sent from
/// `from` (a loopback address): status, `Retry-After`, body.
async fn request(
    l: &Limited,
    from: &str,
    who: &TestIdentity,
    client_id: &str,
) -> (u16, String, Value) {
    let form = format!("grant_type=client_credentials&client_id={client_id}");
    post(l, from, who, "/token", &form).await
}

/// `form` posted to `path` on the mTLS listener with `who`'s certificate,
/// from `from`: status, `Retry-After`, body.
async fn post(
    l: &Limited,
    from: &str,
    who: &TestIdentity,
    path: &str,
    form: &str,
) -> (u16, String, Value) {
    let url = format!("{}{path}", l.server.mtls_url.clone().unwrap_or_default());
    let out = Curl::new()
        .headers()
        .status()
        .ca(&l.pki)
        .identity(Some(who))
        .args(["--interface", from, "-d", form, &url])
        .run()
        .await;
    let (status, body) = out.status_and_body();
    let json = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()));
    (status, out.header("retry-after"), json)
}

fn assert_throttled((status, retry_after, body): &(u16, String, Value), about: &str) {
    assert_eq!(*status, 429, "{body}");
    assert_eq!(body["error"], "slow_down", "{body}");
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(description.contains(about), "{description}");
    let seconds: u64 = retry_after.parse().unwrap_or(0);
    assert!(seconds >= 1, "Retry-After {retry_after:?}");
}

#[tokio::test]
async fn a_client_past_its_budget_gets_429_until_it_refills() {
    let (l, alice, bob) = start_with("bob").await;
    for i in 0..3 {
        let (status, _, body) = request(&l, "127.0.0.1", &alice, "alice").await;
        assert_eq!(status, 200, "request {i}: {body}");
    }
    let over = request(&l, "127.0.0.1", &alice, "alice").await;
    assert_throttled(&over, "rate_limits.client_per_second");
    assert_eq!(over.1, "1", "one token a second");
    // Another client from another address is not affected.
    let (status, _, body) = request(&l, "127.0.0.3", &bob, "bob").await;
    assert_eq!(status, 200, "{body}");
    l.clock.advance(Duration::from_secs(1));
    let (status, _, body) = request(&l, "127.0.0.1", &alice, "alice").await;
    assert_eq!(status, 200, "refilled: {body}");
}

#[tokio::test]
async fn failures_cost_the_address_more_and_cannot_lock_the_real_client_out() {
    let (l, alice, mallory) = start_with("mallory").await;
    // The intruder claims alice's id with its own certificate, from
    // 127.0.0.2: each failure costs 3 of the address's 6 requests.
    for i in 0..2 {
        let (status, _, body) = request(&l, "127.0.0.2", &mallory, "alice").await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "failure {i}"
        );
    }
    let over = request(&l, "127.0.0.2", &mallory, "alice").await;
    assert_throttled(&over, "rate_limits.address_per_second");
    assert_eq!(over.1, "1");
    // The real client, with its own certificate from its own address,
    // still has its whole budget.
    for i in 0..3 {
        let (status, _, body) = request(&l, "127.0.0.1", &alice, "alice").await;
        assert_eq!(
            status, 200,
            "alice's request {i} after the intruder: {body}"
        );
    }
    // Even the intruder's address stays refused while it is empty.
    assert_throttled(
        &request(&l, "127.0.0.2", &alice, "alice").await,
        "rate_limits.address_per_second",
    );
}

#[tokio::test]
async fn an_introspecting_gateway_is_not_limited_but_its_address_neighbours_are() {
    // One gateway introspects for every caller behind it, from one address
    // under one client id: any budget would throttle all of them at once.
    let (l, alice, gateway) = start_with("gateway").await;
    certbound_testkit::server::register_introspecting_client(&l.server, "gateway").await;
    let (status, _, body) = request(&l, "127.0.0.1", &alice, "alice").await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let form = format!("token={token}&client_id=gateway");
    // Four times the address burst (6) and eight times the client burst (3).
    for i in 0..24 {
        let (status, _, body) = post(&l, "127.0.0.7", &gateway, "/introspect", &form).await;
        assert_eq!(status, 200, "introspection {i}: {body}");
        assert_eq!(body["active"], true, "introspection {i}: {body}");
    }
    // The gateway's traffic left its address's budget whole: another
    // client there still gets its own 3...
    let bob = l.pki.simple_client("bob");
    for i in 0..3 {
        let (status, _, body) = request(&l, "127.0.0.7", &bob, "bob").await;
        assert_eq!(status, 200, "bob's request {i}: {body}");
    }
    // ...and failing under the gateway's id from there is charged as
    // any failure (3 each): 6 - 3 (bob) - 3 leaves nothing.
    let (status, _, body) = post(&l, "127.0.0.7", &alice, "/introspect", &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    assert_throttled(
        &post(&l, "127.0.0.7", &gateway, "/introspect", &form).await,
        "rate_limits.address_per_second",
    );
}

#[tokio::test]
async fn an_address_sending_for_many_clients_is_limited_as_one_caller() {
    let (l, alice, bob) = start_with("bob").await;
    // 6 requests from one address, 3 each for two clients: all admitted.
    for i in 0..3 {
        for (who, id) in [(&alice, "alice"), (&bob, "bob")] {
            let (status, _, body) = request(&l, "127.0.0.4", who, id).await;
            assert_eq!(status, 200, "{id} request {i}: {body}");
        }
    }
    l.clock.advance(Duration::from_secs(2));
    // Clients refilled by 2, the address by 2: a third request finds the
    // address empty although bob still has budget.
    for (who, id) in [(&alice, "alice"), (&bob, "bob")] {
        let (status, _, body) = request(&l, "127.0.0.4", who, id).await;
        assert_eq!(status, 200, "{id}: {body}");
    }
    assert_throttled(
        &request(&l, "127.0.0.4", &bob, "bob").await,
        "rate_limits.address_per_second",
    );
}

#[test]
fn bad_rate_limit_settings_name_the_key() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    for (settings, key, message) in [
        (
            "client_burst = 0",
            "rate_limits.client_burst",
            "must be at least 1",
        ),
        (
            "address_per_second = 0",
            "rate_limits.address_per_second",
            "rate_limits.enabled = false",
        ),
        (
            "address_burst = 10\nfailure_cost = 11",
            "rate_limits.failure_cost",
            "must not exceed rate_limits.address_burst",
        ),
        (
            "client_per_second = -1",
            "rate_limits.client_per_second",
            "invalid value",
        ),
        (
            "per_second = 5",
            "rate_limits",
            "unknown field `per_second`",
        ),
    ] {
        let toml = certbound_testkit::config::as_toml(
            &pki,
            &certbound_testkit::sqlite_url(dir.path()),
            certbound_testkit::config::MTLS_LISTENER,
            &format!("[rate_limits]\n{settings}"),
        );
        let err = Config::from_toml(&toml, &dir.path().join("certbound.toml"), Vec::new())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(&format!("key `{key}")), "{settings}: {err}");
        assert!(err.contains(message), "{settings}: {err}");
    }
    // The environment overrides them like every key.
    let toml = certbound_testkit::config::as_toml(
        &pki,
        &certbound_testkit::sqlite_url(dir.path()),
        certbound_testkit::config::MTLS_LISTENER,
        "",
    );
    let env = vec![
        (
            "CERTBOUND_RATE_LIMITS__ENABLED".to_owned(),
            "false".to_owned(),
        ),
        (
            "CERTBOUND_RATE_LIMITS__CLIENT_BURST".to_owned(),
            "7".to_owned(),
        ),
    ];
    let config = Config::from_toml(&toml, &dir.path().join("certbound.toml"), env).unwrap();
    assert!(!config.rate_limits.enabled);
    assert_eq!(config.rate_limits.client_burst, 7);
}

#[tokio::test]
async fn a_public_client_is_limited_by_address_only() {
    // Its client_id proves nothing and every installation of the app shares
    // it: a client budget would let anyone stop everyone.
    let l = start().await;
    let mut app = ClientMetadata::new(AuthMethod::None);
    app.grant_types = vec!["authorization_code".into()];
    app.redirect_uris = vec!["https://app.example/cb".into()];
    certbound_testkit::server::register_client(&l.server, "app", app, None).await;
    let url = format!("{}/token", l.server.mtls_url.clone().unwrap_or_default());
    // Twice the client budget (3), from two addresses within theirs (6).
    for (i, from) in ["127.0.0.5", "127.0.0.6"].repeat(3).iter().enumerate() {
        let out = Curl::new()
            .status()
            .ca(&l.pki)
            .args([
                "--interface",
                from,
                "-d",
                "grant_type=authorization_code&client_id=app&code=unknown&code_verifier=x",
                &url,
            ])
            .run()
            .await;
        let (status, body) = out.status_and_body();
        assert_eq!(status, 400, "request {i} from {from}: {body}");
        assert!(body.contains("invalid_grant"), "{body}");
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_address_it_reports_is_counted() {
    let l = start_with_config(
        "[listeners.proxy]\naddr = \"127.0.0.1:0\"\nurl = \"https://as.example\"\n\
         trusted_proxies = [\"127.0.0.2\"]\ncertificate_header = \"rfc9440\"\n\
         client_address_header = \"X-Forwarded-For\"\n",
    )
    .await;
    let (alice, mallory) = (l.pki.simple_client("alice"), l.pki.simple_client("mallory"));
    let addr = l.server.proxy_addr.unwrap();
    let through_proxy = async |who: &TestIdentity, forwarded_for: &str| {
        let cert = format!(
            "Client-Cert: :{}:",
            base64::engine::general_purpose::STANDARD.encode(&who.issued.cert_der)
        );
        let out = Curl::new()
            .headers()
            .status()
            .args([
                "--interface",
                "127.0.0.2",
                "-H",
                &cert,
                "-H",
                &format!("X-Forwarded-For: {forwarded_for}"),
                "-d",
                "grant_type=client_credentials&client_id=alice",
                &format!("http://{addr}/token"),
            ])
            .run()
            .await;
        let (status, body) = out.status_and_body();
        let json = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()));
        (status, out.header("retry-after"), json)
    };
    // Two failures reported from 198.51.100.1 spend its 6.
    for i in 0..2 {
        let (status, _, body) = through_proxy(&mallory, "198.51.100.1").await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "failure {i}: {body}"
        );
    }
    assert_throttled(
        &through_proxy(&alice, "198.51.100.1").await,
        "rate_limits.address_per_second",
    );
    // The rightmost entry is the one the proxy added; what the client put
    // before it changes nothing.
    assert_throttled(
        &through_proxy(&alice, "198.51.100.2, 198.51.100.1").await,
        "rate_limits.address_per_second",
    );
    // Other clients behind the same proxy keep their budgets.
    let (status, _, body) = through_proxy(&alice, "198.51.100.1, 198.51.100.2").await;
    assert_eq!(status, 200, "{body}");
    // No address to read: counted as the proxy's own (one shared bucket),
    // never as no one.
    for i in 0..2 {
        let (status, _, body) = through_proxy(&mallory, "unknown").await;
        assert_eq!(status, 401, "unreadable failure {i}: {body}");
    }
    assert_throttled(
        &through_proxy(&alice, "198.51.100.9, not-an-address").await,
        "rate_limits.address_per_second",
    );
}
