//! Graceful shutdown of `certbound serve` on SIGTERM: `/readyz` turns 503
//! while requests are still served for `shutdown.delay_seconds`, then new
//! connections are refused, requests in flight finish within the listener's
//! `drain_timeout_secs`, and the process exits 0.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use certbound_testkit::{TestIdentity, TestPki, curl_tls_args};
use common::{Serve, add_tls_client, curl, fresh_config};
use serde_json::Value;

const MTLS_ANY_PORT: &str = "[listeners.mtls]\naddr = \"127.0.0.1:0\"";

/// A token request whose 3,000-byte body curl uploads at 1,000 bytes a
/// second: in flight for about three seconds.
fn slow_token_request(pki: &TestPki, who: &TestIdentity, serve: &Serve) -> Child {
    let body = format!(
        "grant_type=client_credentials&client_id=alice&padding={}",
        "x".repeat(3000)
    );
    Command::new("curl")
        .args(["-sS", "--noproxy", "*", "--limit-rate", "1000"])
        .args(curl_tls_args(&pki.ca_path(), &who.cert_path, &who.key_path))
        .args(["-d", &body, &format!("{}/token", serve.mtls)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn sigterm(serve: &Serve) {
    let sent = Command::new("kill")
        .arg(serve.child.id().to_string())
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Waits for `serve` to exit; its exit code and how long that took.
fn exit_of(serve: &mut Serve, limit: Duration) -> (Option<i32>, Duration) {
    let started = Instant::now();
    loop {
        if let Some(status) = serve.child.try_wait().unwrap() {
            return (status.code(), started.elapsed());
        }
        assert!(
            started.elapsed() < limit,
            "serve still running after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `certbound serve` with client alice and one setting from the
/// environment; the PKI, alice's identity, the directory and the process.
fn serve_with(setting: (&str, &str)) -> (TestPki, TestIdentity, tempfile::TempDir, Serve) {
    let (pki, tmp, cfg) = fresh_config(MTLS_ANY_PORT);
    add_tls_client(tmp.path(), &cfg, "alice", "read", &[]);
    let alice = pki.simple_client("alice");
    let serve = Serve::start(tmp.path(), &["--config", &cfg], &[setting]);
    (pki, alice, tmp, serve)
}

#[test]
fn sigterm_reports_not_ready_then_drains_requests_in_flight_and_exits_zero() {
    let (pki, alice, _tmp, mut serve) = serve_with(("CERTBOUND_SHUTDOWN__DELAY_SECONDS", "2"));
    let tls = curl_tls_args(&pki.ca_path(), &alice.cert_path, &alice.key_path);
    let get = |path: &str| {
        let url = format!("{}{path}", serve.mtls);
        let mut args: Vec<&str> = tls.iter().map(String::as_str).collect();
        args.extend(["-w", "\n%{http_code}", &url]);
        let out = certbound_testkit::Curl::new().args(args).run_blocking();
        let (body, status) = out.stdout.rsplit_once('\n').unwrap_or_default();
        (out.code, status.to_owned(), body.to_owned())
    };
    assert_eq!(get("/readyz").1, "200");

    let in_flight = slow_token_request(&pki, &alice, &serve);
    std::thread::sleep(Duration::from_millis(500));
    sigterm(&serve);
    std::thread::sleep(Duration::from_millis(300));

    // The delay: not ready, yet still serving, on new connections too.
    let (_, status, body) = get("/readyz");
    assert_eq!(status, "503", "{body}");
    assert!(body.contains("shutting down"), "{body}");
    let token_url = format!("{}/token", serve.mtls);
    let mut args: Vec<&str> = tls.iter().map(String::as_str).collect();
    args.extend([
        "-d",
        "grant_type=client_credentials&client_id=alice",
        &token_url,
    ]);
    let (_, during) = curl(&args);
    assert!(during["access_token"].is_string(), "{during}");

    // After it: new connections are refused...
    std::thread::sleep(Duration::from_millis(2200));
    let (code, _, _) = get("/healthz");
    assert_eq!(code, 7, "curl: failed to connect");
    // ...while the request sent before SIGTERM completes.
    let out = in_flight.wait_with_output().unwrap();
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert!(
        answer["access_token"].is_string(),
        "{answer} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, _) = exit_of(&mut serve, Duration::from_secs(10));
    assert_eq!(code, Some(0));
}

#[test]
fn a_request_longer_than_the_drain_timeout_is_cut_and_the_process_still_exits_zero() {
    let (pki, alice, _tmp, mut serve) =
        serve_with(("CERTBOUND_LISTENERS__LIMITS__DRAIN_TIMEOUT_SECS", "1"));
    let in_flight = slow_token_request(&pki, &alice, &serve);
    std::thread::sleep(Duration::from_millis(300));
    sigterm(&serve);
    // About one second of drain, not the three the upload needs.
    let (code, took) = exit_of(&mut serve, Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_millis(2500), "{took:?}");
    let out = in_flight.wait_with_output().unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("access_token"),
        "the cut request got no token"
    );
}
