//! A form body over the limit gets its 413 with the OAuth error body in
//! every client: the server reads and drops the rest of the upload (within
//! bounds) before answering, so Python `requests`, which sends the whole
//! body before reading, sees the answer instead of a reset connection, and
//! curl over HTTP/2 sees a cleanly ended stream instead of status 000.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use certbound_testkit::{Curl, require_tool};
use common::{Backend, TestServer};
use serde_json::Value;

/// 1 MB of form: past the 16 KiB limit and more than an HTTP/2 stream's
/// window, within the 16 MiB the server reads and drops.
fn oversized() -> String {
    format!(
        "grant_type=client_credentials&client_id=alice&pad={}",
        "a".repeat(1_000_000)
    )
}

const REQUESTS_POST: &str = r#"
import json, sys, requests
url, ca, cert, key, size = sys.argv[1:6]
body = "grant_type=client_credentials&client_id=alice&pad=" + "a" * int(size)
r = requests.post(url, data=body, verify=ca, cert=(cert, key),
                  headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
print(json.dumps({"status": r.status_code, "body": r.json()}))
"#;

// Python gets 8 MB, more than the loopback socket buffers hold: without
// the lingering read it sees the connection closed mid-upload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_requests_and_curl_over_http2_read_the_413() {
    let server = TestServer::start(Backend::Sqlite).await;
    let mut m = certbound_testkit::server::tls_client("alice");
    m.scope = "read".into();
    // Opaque: a successful request would write a row, so "nothing written" is observable.
    m.access_token_format = certbound_server::clients::TokenFormat::Opaque;
    server.register("alice", m, None).await;
    let alice = server.pki.simple_client("alice");
    let url = format!("{}/token", server.url);
    let before = server.row_counts().await;

    let out = tokio::process::Command::new(require_tool("python3"))
        .args(["-c", REQUESTS_POST, &url])
        .arg(server.pki.ca_path())
        .arg(&alice.cert_path)
        .arg(&alice.key_path)
        .arg("8000000")
        .output()
        .await
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let answer: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| {
        panic!(
            "requests got no answer: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(answer["status"], 413, "{answer}");
    assert_eq!(answer["body"]["error"], "invalid_request", "{answer}");
    assert_eq!(
        answer["body"]["error_description"],
        "the request body exceeds 16384 bytes"
    );

    for version in ["--http2", "--http1.1"] {
        let body_file = server.dir.path().join("big-body");
        std::fs::write(&body_file, oversized()).unwrap();
        let out = Curl::new()
            .status()
            .ca(&server.pki)
            .identity(Some(&alice))
            .args([
                version,
                "-H",
                "Content-Type: application/x-www-form-urlencoded",
                "--data-binary",
            ])
            .arg(format!("@{}", body_file.display()))
            .arg(&url)
            .run()
            .await;
        assert_eq!(out.code, 0, "{version}: {}{}", out.stdout, out.stderr);
        let (status, body) = out.status_and_body();
        assert_eq!(status, 413, "{version}: {body}");
        let json: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        assert_eq!(json["error"], "invalid_request", "{version}: {body}");
    }
    // Declared past what the server would drain, or waiting for
    // `100 Continue`: the 413 comes at once, without the body.
    for (what, extra) in [
        ("declared 20 MB", vec!["-H", "Content-Length: 20000000"]),
        ("100-continue", vec!["-H", "Expect: 100-continue"]),
    ] {
        let body_file = server.dir.path().join("big-body");
        let mut curl = Curl::new()
            .status()
            .ca(&server.pki)
            .identity(Some(&alice))
            .args([
                "--http1.1",
                "-H",
                "Content-Type: application/x-www-form-urlencoded",
            ]);
        if what == "100-continue" {
            curl = curl.args(["--data-binary", &format!("@{}", body_file.display())]);
        } else {
            curl = curl.args([
                "--max-time",
                "10",
                "--data-binary",
                "grant_type=client_credentials",
            ]);
        }
        let out = curl.args(extra).arg(&url).run().await;
        let (status, body) = out.status_and_body();
        assert_eq!(status, 413, "{what}: {}{}", out.stdout, out.stderr);
        let json: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        assert_eq!(json["error"], "invalid_request", "{what}: {body}");
    }
    assert_eq!(server.row_counts().await, before, "nothing written");
    // The connection pool and the server are fine afterwards.
    assert!(!server.token(Some(&alice), "alice").await.is_empty());
}
