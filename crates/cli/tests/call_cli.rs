//! `certbound call` as a user runs it: a `certbound serve` child process on
//! SQLite, a protected mTLS resource in this process that checks the token's
//! certificate binding, and the built binary in between.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../../client/tests/common/resource.rs"]
mod resource;

use std::process::Command;

use certbound_testkit::{TestIdentity, TestPki, run};
use common::{BIN, Serve, add_tls_client, write_config};
use resource::Resource;
use serde_json::Value;

/// An authorization server with client `alice` (`CN=alice`, scope `read`)
/// and a resource, both using one test PKI.
struct Fixture {
    pki: TestPki,
    alice: TestIdentity,
    serve: Serve,
    resource: Resource,
    _runtime: tokio::runtime::Runtime,
    _tmp: tempfile::TempDir,
}

impl Fixture {
    fn start() -> Self {
        let pki = TestPki::new();
        let tmp = tempfile::tempdir().expect("tempdir");
        let config = write_config(
            tmp.path(),
            &pki,
            &certbound_testkit::sqlite_url(tmp.path()),
            "[listeners.mtls]\naddr = \"127.0.0.1:0\"\n[listeners.public]\naddr = \"127.0.0.1:0\"",
        );
        let cfg = config.to_string_lossy().into_owned();
        add_tls_client(tmp.path(), &cfg, "alice", "read", &[]);
        let alice = pki.simple_client("alice");
        let serve = Serve::start(tmp.path(), &["--config", &cfg], &[]);
        let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
        let resource = runtime.block_on(Resource::start(&pki));
        Self {
            pki,
            alice,
            serve,
            resource,
            _runtime: runtime,
            _tmp: tmp,
        }
    }

    /// `certbound call` as `client_id` with alice's certificate; (code, stdout, stderr).
    fn call(&self, as_url: &str, client_id: &str, rest: &[&str]) -> (i32, String, String) {
        let cert = self.alice.cert_path.to_string_lossy();
        let key = self.alice.key_path.to_string_lossy();
        let ca = self.pki.ca_path();
        let ca = ca.to_string_lossy();
        run(Command::new(BIN)
            .args(["call", "--as-url", as_url, "--cert", &cert, "--key", &key])
            .args(["--cacert", &ca, "--client-id", client_id])
            .args(rest))
    }
}

fn json(out: &str) -> Value {
    match serde_json::from_str(out) {
        Ok(v) => v,
        Err(e) => panic!("not JSON ({e}): {out}"),
    }
}

fn error_lines(err: &str) -> Vec<&str> {
    err.lines().filter(|l| l.starts_with("error: ")).collect()
}

#[test]
fn get_and_post_reach_the_resource_with_the_bound_token() {
    let fx = Fixture::start();
    let things = format!("{}/things", fx.resource.url);

    let (code, out, err) = fx.call(
        &fx.serve.issuer,
        "alice",
        &["--scope", "read", &things, "-H", "X-Trace: abc"],
    );
    assert_eq!(code, 0, "{err}");
    let body = json(&out);
    assert_eq!(body["method"], "GET");
    assert_eq!(body["client_id"], "alice");
    assert_eq!(
        body["x5t#S256"],
        Value::from(fx.alice.thumbprint().to_string())
    );
    assert_eq!(body["headers"]["x-trace"], "abc");
    assert!(
        err.contains(&format!("requesting a token at {}/token", fx.serve.mtls)),
        "uses the mTLS alias: {err}"
    );
    assert!(
        err.lines()
            .any(|l| l.starts_with("HTTP/") && l.ends_with("200 OK")),
        "status line on stderr: {err}"
    );

    let (code, out, err) = fx.call(
        &fx.serve.issuer,
        "alice",
        &[&things, "-X", "POST", "-d", "greeting=hello world"],
    );
    assert_eq!(code, 0, "{err}");
    let body = json(&out);
    assert_eq!(body["method"], "POST");
    assert_eq!(body["body"], "greeting=hello world");

    let file = fx.pki.dir().join("body.json");
    std::fs::write(&file, "{\"n\": 1}\n").expect("write body");
    let at_file = format!("@{}", file.display());
    let (code, out, err) = fx.call(
        &fx.serve.issuer,
        "alice",
        &[
            &things,
            "-X",
            "put",
            "-d",
            &at_file,
            "-H",
            "Content-Type: application/json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let body = json(&out);
    assert_eq!(body["method"], "PUT");
    assert_eq!(body["body"], "{\"n\": 1}\n");

    let seen = fx.resource.state.seen();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen.iter().all(|s| s.token.is_some()));
}

#[test]
fn failures_exit_one_with_one_clear_error_line() {
    let fx = Fixture::start();
    let things = format!("{}/things", fx.resource.url);

    // A client the server does not know.
    let (code, out, err) = fx.call(&fx.serve.issuer, "bob", &[&things]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "{out}");
    let errors = error_lines(&err);
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].contains("invalid_client")
            && errors[0].contains("'bob'")
            && errors[0].contains("registered"),
        "{err}"
    );
    assert!(fx.resource.state.seen().is_empty(), "no token, no call");

    // An authorization server that is not there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let (code, _, err) = fx.call(&format!("https://localhost:{port}"), "alice", &[&things]);
    assert_eq!(code, 1, "{err}");
    let errors = error_lines(&err);
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].contains("could not reach") && errors[0].contains("--as-url"),
        "{err}"
    );

    // A resource refusal: the body is still printed, the exit code is 1.
    let forbidden = format!("{}/forbidden", fx.resource.url);
    let (code, out, err) = fx.call(&fx.serve.issuer, "alice", &[&forbidden]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(out, "forbidden\n");
    assert!(
        err.lines()
            .any(|l| l.starts_with("HTTP/") && l.ends_with("403 Forbidden")),
        "{err}"
    );
    let errors = error_lines(&err);
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains("insufficient_scope"), "{err}");

    // Bad arguments fail before anything is sent.
    let (code, _, err) = fx.call(&fx.serve.issuer, "alice", &[&things, "-H", "nocolon"]);
    assert_eq!(code, 1);
    assert!(
        error_lines(&err).len() == 1 && err.contains("Name: value"),
        "{err}"
    );
    let plain = things.replacen("https://", "http://", 1);
    let (code, _, err) = fx.call(&fx.serve.issuer, "alice", &[&plain]);
    assert_eq!(code, 1);
    assert!(
        error_lines(&err).len() == 1 && err.contains("https://"),
        "{err}"
    );
}
