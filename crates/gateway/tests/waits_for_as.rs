//! A gateway started before its authorization server (issue #20): it
//! listens at once, answers 503 with `Retry-After` (and `/readyz` 503)
//! while it retries with backoff, and verifies tokens once the AS answers,
//! without a restart. An AS that answers wrongly is retried too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use certbound_server::RunningServer;
use certbound_server::clients::TokenFormat;
use certbound_testkit::config::as_toml;
use certbound_testkit::gateway::{GatewaySetup, launch_gateway};
use certbound_testkit::server::start_as_from;
use certbound_testkit::{Curl, TestIdentity, TestPki, bearer, json_or_text};
use common::{log, log_lines, register, start_upstream, token, until_logged};
use serde_json::{Value, json};

/// A loopback port nothing listens on (bound, then released).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// An AS whose mTLS listener is on `port`; `top` goes before every table.
async fn start_as_on(pki: &TestPki, dir: &Path, port: u16, top: &str) -> RunningServer {
    let listeners = format!("[listeners.mtls]\naddr = \"127.0.0.1:{port}\"");
    let toml = format!(
        "{top}\n{}",
        as_toml(pki, &certbound_testkit::sqlite_url(dir), &listeners, "")
    );
    start_as_from(&toml, dir).await
}

/// One answer: status, `Retry-After`, `WWW-Authenticate`, the JSON body.
struct Answer {
    status: u16,
    retry_after: String,
    challenge: String,
    body: Value,
}

async fn call(pki: &TestPki, who: &TestIdentity, args: &[&str]) -> Answer {
    let out = Curl::new()
        .headers()
        .status()
        .ca(pki)
        .identity(Some(who))
        .args(args)
        .run()
        .await;
    let (status, body) = out.status_and_body();
    Answer {
        status,
        retry_after: out.header("retry-after"),
        challenge: out.header("www-authenticate"),
        body: json_or_text(body),
    }
}

fn seconds(retry_after: &str) -> u64 {
    retry_after
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After {retry_after:?} is not seconds"))
}

/// Calls `url` until it answers `status` or `secs` have passed.
async fn until_status(
    pki: &TestPki,
    who: &TestIdentity,
    url: &str,
    status: u16,
    secs: u64,
) -> Answer {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let answer = call(pki, who, &[url]).await;
        if answer.status == status || tokio::time::Instant::now() >= deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_started_before_its_as_serves_once_the_as_is_up() {
    log();
    let pki = TestPki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let upstream = start_upstream().await;
    let a = pki.simple_client("a");
    let port = free_port();
    let issuer = format!("https://localhost:{port}");
    let gw = launch_gateway(&pki, dir.path(), &issuer, GatewaySetup::new(&upstream, "")).await;
    let base = format!("https://localhost:{}", gw.addr.port());
    let (readyz, api) = (format!("{base}/readyz"), format!("{base}/api/x"));

    // Nothing listens on the AS's port: the gateway serves anyway.
    let early = call(&pki, &a, &[&readyz]).await;
    assert_eq!(
        (early.status, &early.body),
        (
            503,
            &json!({"status": "unavailable", "reason": "waiting for the authorization server"})
        )
    );
    let early_wait = seconds(&early.retry_after);
    assert!((1..=30).contains(&early_wait), "{}", early.retry_after);
    assert!(!gw.is_ready());
    // A routed request: the generic outage 503 of the guard, with the
    // backoff as Retry-After and the bare Bearer challenge.
    let unseen = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJub3QteWV0In0.c2lnbmF0dXJl";
    let refused = call(&pki, &a, &["-H", &bearer(unseen), &api]).await;
    assert_eq!(
        (refused.status, &refused.body, refused.challenge.as_str()),
        (
            503,
            &json!({"error": "temporarily_unavailable", "error_description": "the authorization server is temporarily unavailable; retry shortly"}),
            "bearer realm=\"certbound\""
        )
    );
    assert!((1..=30).contains(&seconds(&refused.retry_after)));
    // Routing still comes first: a path no route covers is 404, not 503.
    assert_eq!(
        call(&pki, &a, &[&format!("{base}/other")]).await.status,
        404
    );

    // Each failed attempt is one WARN line saying what failed and why; the
    // fourth comes after waits of about 0.5, 1 and 2 s.
    let issuer_field = format!("issuer={issuer} ");
    let warned = until_logged(&[&issuer_field, "not reachable yet"], 4, 15).await;
    assert!(warned.len() >= 4, "{warned:#?}");
    for (n, line) in warned.iter().enumerate() {
        assert!(line.contains(" WARN "), "{line}");
        assert!(line.contains(&format!("attempt={}", n + 1)), "{line}");
        assert!(
            line.contains(&format!("discovering {issuer}"))
                && line.to_ascii_lowercase().contains("refused"),
            "{line}"
        );
    }
    // Retry-After follows the backoff: after the fourth failure the next
    // attempt is 2 to 4 s away.
    let later = call(&pki, &a, &[&readyz]).await;
    assert_eq!(later.status, 503);
    assert!(
        seconds(&later.retry_after) >= 2 && seconds(&later.retry_after) >= early_wait,
        "{} after {}",
        later.retry_after,
        early.retry_after
    );

    // The AS comes up on that port: within the next backoff (at most 8 s
    // by now) the same gateway becomes ready and accepts a bound token.
    let server = start_as_on(&pki, dir.path(), port, "").await;
    assert_eq!(server.issuer, issuer);
    register(&server, "a", "read", TokenFormat::Jwt).await;
    let t = token(&pki, &server, &a, "a").await;
    let ready = until_status(&pki, &a, &readyz, 200, 20).await;
    assert_eq!(
        (ready.status, &ready.body, ready.retry_after.as_str()),
        (200, &json!({"status": "ready"}), "")
    );
    assert!(gw.is_ready());
    let proxied = call(&pki, &a, &["-H", &bearer(&t), &api]).await;
    assert_eq!(proxied.status, 200, "{}", proxied.body);
    assert_eq!(proxied.body["uri"], "/api/x");
    assert_eq!(
        proxied.body["headers"]["x-certbound-client-id"],
        json!(["a"])
    );
    let forged = call(&pki, &a, &["-H", &bearer(unseen), &api]).await;
    assert_eq!(forged.status, 401, "{}", forged.body);

    assert_eq!(
        log_lines(&[&issuer_field, "authorization server reached; gateway ready"]).len(),
        1
    );
    let everything = log();
    assert!(!everything.contains(&t) && !everything.contains(unseen));
    gw.stop().await;
    server.stop().await;
}

/// An AS that answers with another issuer (mid-deploy, or misconfigured) is
/// not fatal: logged as an error per attempt and retried, so once the AS
/// names the expected issuer the gateway serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_as_naming_another_issuer_is_an_error_retried_until_it_is_fixed() {
    log();
    let pki = TestPki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let upstream = start_upstream().await;
    let a = pki.simple_client("a");
    let port = free_port();
    // The AS calls itself https://localhost:PORT; the gateway expects the
    // same host by address (the test certificate covers both).
    let server = start_as_on(&pki, dir.path(), port, "").await;
    let expected = format!("https://127.0.0.1:{port}");
    let setup = GatewaySetup {
        policy: Some("audience = \"https://api.example\""),
        ..GatewaySetup::new(&upstream, "")
    };
    let gw = launch_gateway(&pki, dir.path(), &expected, setup).await;
    let readyz = format!("https://localhost:{}/readyz", gw.addr.port());

    let issuer_field = format!("issuer={expected} ");
    let errors = until_logged(&[&issuer_field, "not as configured"], 2, 10).await;
    assert!(errors.len() >= 2, "retried: {errors:#?}");
    for line in &errors {
        assert!(line.contains(" ERROR "), "{line}");
        assert!(
            line.contains(&format!(
                "names issuer {}, expected {expected}",
                server.issuer
            )),
            "{line}"
        );
    }
    assert_eq!(call(&pki, &a, &[&readyz]).await.status, 503);

    // Redeployed with the issuer the gateway expects: ready, no restart.
    server.stop().await;
    let fixed = tempfile::tempdir().expect("tempdir");
    let server = start_as_on(
        &pki,
        fixed.path(),
        port,
        &format!("issuer = \"{expected}\""),
    )
    .await;
    let ready = until_status(&pki, &a, &readyz, 200, 20).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    gw.stop().await;
    server.stop().await;
}

/// `/readyz` is the gateway's own even under a catch-all route, and only
/// that exact path: `/readyz/x` is routed like any other path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_answered_before_routing_and_only_for_its_exact_path() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let upstream = start_upstream().await;
    let a = pki.simple_client("a");
    let server = certbound_testkit::server::start_as(&pki, dir.path(), "").await;
    register(&server, "a", "read", TokenFormat::Jwt).await;
    let toml = certbound_testkit::config::gateway_toml(
        &pki,
        certbound_testkit::config::GatewayListener::Mtls,
        &server.issuer,
        &format!(
            "[policy]\naudience = \"{}\"\n[[routes]]\npath_prefix = \"/\"\nupstream = \"{upstream}\"\n",
            server.issuer
        ),
    );
    let gw = certbound_testkit::gateway::start_gateway_from(&toml, dir.path()).await;
    let base = format!("https://localhost:{}", gw.addr.port());
    let t = token(&pki, &server, &a, "a").await;

    let ready = call(&pki, &a, &[&format!("{base}/readyz")]).await;
    assert_eq!(
        (ready.status, &ready.body),
        (200, &json!({"status": "ready"}))
    );
    // No token needed, and a token changes nothing: the upstream never sees it.
    let with_token = call(&pki, &a, &["-H", &bearer(&t), &format!("{base}/readyz")]).await;
    assert_eq!(with_token.body, json!({"status": "ready"}));
    // HEAD, over HTTP/2 (curl's default here) and HTTP/1.1: headers only,
    // whether the gateway, the guard or the upstream answers.
    for version in ["--http2", "--http1.1"] {
        for (path, with_token, status) in [
            ("/readyz", false, 200),
            ("/readyzz", false, 401),
            ("/readyz/x", true, 200),
        ] {
            let url = format!("{base}{path}");
            let auth = bearer(&t);
            let mut args = vec!["-I", version, url.as_str()];
            if with_token {
                args.extend(["-H", auth.as_str()]);
            }
            let head = call(&pki, &a, &args).await;
            assert_eq!(
                head.status, status,
                "{version} HEAD {path}: {:?}",
                head.body
            );
        }
    }
    let post = call(&pki, &a, &["-X", "POST", &format!("{base}/readyz")]).await;
    assert_eq!(post.status, 405, "{}", post.body);
    // Anything else goes through the catch-all route.
    let deeper = call(&pki, &a, &["-H", &bearer(&t), &format!("{base}/readyz/x")]).await;
    assert_eq!(
        (deeper.status, &deeper.body["uri"]),
        (200, &json!("/readyz/x"))
    );
    let unauthenticated = call(&pki, &a, &[&format!("{base}/readyzz")]).await;
    assert_eq!(unauthenticated.status, 401, "routed, so a token is needed");
    gw.stop().await;
    server.stop().await;
}

/// Only "the AS does not answer (correctly) yet" is waited for: what the
/// configuration alone decides still stops the gateway at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_configuration_still_fails_at_start() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let issuer = format!("https://localhost:{}", free_port());
    let toml = certbound_testkit::config::gateway_toml(
        &pki,
        certbound_testkit::config::GatewayListener::Mtls,
        &issuer,
        "",
    );
    let config = |toml: &str| {
        certbound_gateway::GatewayConfig::from_toml(toml, &dir.path().join("gateway.toml"))
            .expect("config")
    };
    // The AS is down either way; with a CA file that is not there the
    // gateway cannot ever talk to it.
    let missing = dir.path().join("missing-ca.pem");
    // The `[authorization_server]` key, not `[tls] client_ca`.
    let ca = format!("\nca = \"{}\"", pki.ca_path().display());
    let broken = toml.replace(&ca, &format!("\nca = \"{}\"", missing.display()));
    assert_ne!(broken, toml);
    match certbound_gateway::start(config(&broken)).await {
        Err(e) => {
            let why = e.to_string();
            assert!(
                why.starts_with("authorization_server TLS: ")
                    && why.contains(&missing.display().to_string()),
                "{why}"
            );
        }
        Ok(_) => panic!("started without its AS's CA file"),
    }
    let gw = certbound_gateway::start(config(&toml))
        .await
        .expect("an unreachable AS is waited for");
    assert!(!gw.is_ready());
    gw.stop().await;
}
