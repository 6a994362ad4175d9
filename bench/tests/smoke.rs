//! CI smoke test: the built binary's `fixed-server` with mTLS, driven by its
//! own `load` in both modes. Checks that requests flow and the report has its
//! fields, never how fast anything is.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};

use certbound_testkit::{TestIdentity, TestPki};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_certbound-bench");

/// A running `fixed-server`, killed on drop.
struct Server {
    child: Child,
    /// The HTTPS base URL from the `ready` line.
    url: String,
    /// Kept open so the server never writes to a closed pipe.
    _stdout: BufReader<ChildStdout>,
}

impl Server {
    fn start(pki: &TestPki, client_ca: bool) -> Self {
        let dir = pki.dir();
        let mut cmd = Command::new(BIN);
        cmd.args(["--threads", "1", "fixed-server", "--listen", "127.0.0.1:0"])
            .arg("--cert")
            .arg(dir.join("server.pem"))
            .arg("--key")
            .arg(dir.join("server.key"))
            .args(["--body-size", "100"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if client_ca {
            cmd.arg("--client-ca").arg(pki.ca_path());
        }
        let mut child = cmd.spawn().expect("spawn fixed-server");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read ready line");
        if !line.starts_with("ready ") {
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ = stderr.read_to_string(&mut err);
            }
            panic!("fixed-server did not get ready: {line:?} {err}");
        }
        let url = line
            .split_whitespace()
            .nth(1)
            .expect("address in ready line")
            .to_owned();
        assert!(url.starts_with("https://127.0.0.1:"), "{line}");
        Server {
            child,
            url,
            _stdout: stdout,
        }
    }
}

impl Server {
    /// Sends SIGTERM, checks the clean exit and returns what it printed on stderr.
    fn stop(&mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            pipe.read_to_string(&mut stderr).unwrap();
        }
        assert_eq!(exit.code(), Some(0), "{exit:?} {stderr}");
        stderr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `load` with JSON output; returns (exit code, report, stderr).
fn load(
    url: &str,
    pki: &TestPki,
    client: Option<&TestIdentity>,
    extra: &[&str],
) -> (i32, Value, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(["--threads", "2", "load", "--url", url, "--format", "json"])
        .arg("--cacert")
        .arg(pki.ca_path())
        .args(extra);
    if let Some(id) = client {
        cmd.arg("--cert")
            .arg(&id.cert_path)
            .arg("--key")
            .arg(&id.key_path);
    }
    let out = cmd.output().expect("run load");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), report, stderr)
}

fn num(report: &Value, field: &str) -> u64 {
    report[field]
        .as_u64()
        .unwrap_or_else(|| panic!("no integer '{field}' in {report:#}"))
}

fn assert_fields(report: &Value) {
    for field in ["requests", "errors", "connections", "concurrency"] {
        num(report, field);
    }
    for field in ["duration_secs", "rps"] {
        assert!(report[field].is_f64(), "{field} in {report:#}");
    }
    for p in ["p50", "p90", "p99", "max", "mean"] {
        assert!(
            report["latency_ms"][p].is_f64(),
            "latency_ms.{p} in {report:#}"
        );
    }
    assert!(report["error_samples"].is_array(), "{report:#}");
}

#[test]
fn both_modes_complete_requests_over_mtls() {
    let pki = TestPki::new();
    let client = pki.simple_client("bench-client");
    let mut server = Server::start(&pki, true);
    let url = format!("{}/token", server.url);

    let server_pid = server.child.id().to_string();
    let (code, report, stderr) = load(
        &url,
        &pki,
        Some(&client),
        &[
            "-c",
            "4",
            "-d",
            "1",
            "--form",
            "grant_type=client_credentials",
            "--cpu-of",
            &server_pid,
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_fields(&report);
    assert_eq!(report["mode"], "keep-alive");
    assert_eq!(num(&report, "concurrency"), 4);
    assert!(num(&report, "requests") > 0, "{report:#}");
    assert_eq!(num(&report, "errors"), 0, "{report:#}");
    assert_eq!(num(&report, "body_bytes"), 100 * num(&report, "requests"));
    // The server's CPU over the measured second is reported per request.
    let cpu = report["server_cpu"].as_array().unwrap();
    assert_eq!(cpu.len(), 1, "{report:#}");
    assert_eq!(cpu[0]["pid"].as_u64(), Some(u64::from(server.child.id())));
    assert!(cpu[0]["cpu_secs"].is_f64(), "{report:#}");
    assert!(report["server_cpu_us_per_request"].is_f64(), "{report:#}");

    // Keep-alive reconnects may resume a session, so the full-handshake count
    // below is taken on a server that saw only new-connection traffic.
    server.stop();
    let mut server = Server::start(&pki, true);
    let url = format!("{}/token", server.url);
    let report_path = pki.dir().join("report.json");
    let (code, report, stderr) = load(
        &url,
        &pki,
        Some(&client),
        &[
            "-c",
            "2",
            "-d",
            "1",
            "--new-connection",
            "--output",
            report_path.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_fields(&report);
    assert_eq!(report["mode"], "new-connection");
    let requests = num(&report, "requests");
    assert!(requests > 0, "{report:#}");
    assert_eq!(num(&report, "errors"), 0, "{report:#}");
    assert!(report["server_cpu_us_per_request"].is_null(), "{report:#}");
    assert_eq!(
        num(&report, "connections"),
        requests,
        "one connection per request"
    );
    let written: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    assert_eq!(written, report);

    // Every new-connection handshake was a full one, and none failed.
    let stderr = server.stop();
    assert!(
        stderr.contains(" 0 failed TLS handshakes, 0 resumed"),
        "{stderr}"
    );
}

#[test]
fn a_client_certificate_from_another_ca_fails_the_handshake() {
    let pki = TestPki::new();
    let other = TestPki::new();
    let stranger = other.simple_client("stranger");
    let server = Server::start(&pki, true);

    for extra in [
        &["-c", "2", "-n", "20"][..],
        &["-c", "2", "-n", "20", "--new-connection"],
    ] {
        let (code, report, stderr) = load(&server.url, &pki, Some(&stranger), extra);
        assert_eq!(code, 0, "a failing run still reports: {stderr}");
        assert_fields(&report);
        assert_eq!(num(&report, "errors"), 20, "{report:#}");
        assert_eq!(num(&report["errors_by_kind"], "tls"), 20, "{report:#}");
        let samples = report["error_samples"].as_array().unwrap();
        assert!(!samples.is_empty() && samples.len() <= 5, "{report:#}");
    }
    // No certificate at all is refused the same way.
    let (code, report, _) = load(&server.url, &pki, None, &["-n", "3"]);
    assert_eq!(code, 0);
    assert_eq!(num(&report, "errors"), 3, "{report:#}");
}

#[test]
fn non_loopback_targets_are_refused() {
    let pki = TestPki::new();
    for url in ["https://192.0.2.1/", "http://192.0.2.1:8080/x"] {
        let out = Command::new(BIN)
            .args(["load", "--url", url, "-n", "1"])
            .arg("--cacert")
            .arg(pki.ca_path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{url}: {stderr}");
        assert!(stderr.contains("not a loopback address"), "{stderr}");
    }
    let out = Command::new(BIN)
        .args(["fixed-server", "--plain-listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a loopback address"));
}

#[test]
fn fixed_server_exits_cleanly_on_sigterm() {
    let pki = TestPki::new();
    let mut server = Server::start(&pki, false);
    let stderr = server.stop();
    assert!(stderr.contains("stopped: 0 requests"), "{stderr}");
}

#[test]
fn cpu_of_a_process_that_is_not_there_is_refused() {
    let pki = TestPki::new();
    let server = Server::start(&pki, false);
    let (code, report, stderr) = load(&server.url, &pki, None, &["-n", "1", "--cpu-of", "4194305"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(report.is_null());
    assert!(
        stderr.contains("cannot read the CPU time of process 4194305"),
        "{stderr}"
    );
}

#[test]
fn sign_reports_the_cost_of_one_token_signature() {
    for (alg, name) in [("es256", "ES256"), ("eddsa", "EdDSA")] {
        let out = Command::new(BIN)
            .args(["sign", "--alg", alg, "-d", "0.2", "--format", "json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["alg"], name);
        assert!(num(&report, "signatures") > 0, "{report:#}");
        assert!(report["us_per_signature"].as_f64().unwrap() > 0.0);
    }
    let out = Command::new(BIN)
        .args(["sign", "--alg", "rs1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// A plain-HTTP/1.1 keep-alive server on std that records every request
/// body and answers 200, so a test can see what each request sent.
struct BodyRecorder {
    url: String,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl BodyRecorder {
    fn start() -> Self {
        use std::io::Write;
        use std::sync::{Arc, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let sink = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let sink = sink.clone();
                std::thread::spawn(move || {
                    let mut writer = stream.try_clone().unwrap();
                    let mut reader = BufReader::new(stream);
                    loop {
                        let mut length = 0usize;
                        let mut line = String::new();
                        loop {
                            line.clear();
                            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            if line == "\r\n" {
                                break;
                            }
                            let lower = line.to_ascii_lowercase();
                            if let Some(v) = lower.strip_prefix("content-length:") {
                                length = v.trim().parse().unwrap();
                            }
                        }
                        let mut body = vec![0; length];
                        reader.read_exact(&mut body).unwrap();
                        sink.lock().unwrap().push(String::from_utf8(body).unwrap());
                        if writer
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                            .is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        BodyRecorder { url, bodies }
    }

    /// Every body received so far, sorted.
    fn sorted(&self) -> Vec<String> {
        let mut all = self.bodies.lock().unwrap().clone();
        all.sort();
        all
    }
}

/// Runs `load` against a plain-HTTP URL; returns (exit code, report, stderr).
fn load_plain(url: &str, extra: &[&str]) -> (i32, Value, String) {
    let out = Command::new(BIN)
        .args(["--threads", "2", "load", "--url", url, "--format", "json"])
        .args(extra)
        .output()
        .expect("run load");
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), report, stderr)
}

#[test]
fn forms_file_sends_every_line_exactly_once_then_stops() {
    let dir = std::env::temp_dir().join(format!("certbound-bench-forms-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("forms.txt");
    let lines: Vec<String> = (0..600)
        .map(|i| format!("grant_type=x&code=c{i:04}"))
        .collect();
    // CRLF line ends and blank lines are tolerated; blank lines are no forms.
    std::fs::write(&path, format!("{}\r\n\n", lines.join("\r\n"))).unwrap();
    let file = path.to_str().unwrap();

    // A generous duration: the run must end because the lines ran out, and
    // never wrap around to the first line again.
    let server = BodyRecorder::start();
    let (code, report, stderr) = load_plain(
        &server.url,
        &[
            "-c",
            "8",
            "-d",
            "60",
            "--warmup",
            "0.05",
            "--forms-file",
            file,
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_fields(&report);
    assert_eq!(report["forms"]["lines"], 600, "{report:#}");
    assert_eq!(report["forms"]["used"], 600, "{report:#}");
    assert_eq!(report["forms"]["exhausted"], true, "{report:#}");
    assert_eq!(num(&report, "errors"), 0, "{report:#}");
    assert!(
        report["duration_secs"].as_f64().unwrap() < 60.0,
        "{report:#}"
    );
    let mut want = lines.clone();
    want.sort();
    assert_eq!(server.sorted(), want, "each line exactly once");
    // Warm-up used some lines; the measured requests are the rest.
    assert!(num(&report, "requests") <= 600, "{report:#}");

    // --requests ends it first: only that many lines are taken.
    let server = BodyRecorder::start();
    let (code, report, stderr) =
        load_plain(&server.url, &["-c", "4", "-n", "100", "--forms-file", file]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(num(&report, "requests"), 100, "{report:#}");
    assert_eq!(report["forms"]["used"], 100, "{report:#}");
    assert_eq!(report["forms"]["exhausted"], false, "{report:#}");
    let got = server.sorted();
    assert_eq!(got.len(), 100);
    got.windows(2)
        .for_each(|w| assert_ne!(w[0], w[1], "a line sent twice"));
    assert!(got.iter().all(|b| lines.contains(b)));

    // Without --forms-file there is no forms entry.
    let (code, report, _) = load_plain(&server.url, &["-n", "3", "--form", "a=b"]);
    assert_eq!(code, 0);
    assert!(report["forms"].is_null(), "{report:#}");

    // --form and --forms-file together, and a file with no form, are refused.
    let empty = dir.join("empty.txt");
    std::fs::write(&empty, "\n\n").unwrap();
    for extra in [
        &["-n", "1", "--forms-file", file, "--form", "a=b"][..],
        &["-n", "1", "--forms-file", empty.to_str().unwrap()],
        &[
            "-n",
            "1",
            "--forms-file",
            dir.join("missing").to_str().unwrap(),
        ],
    ] {
        let (code, report, stderr) = load_plain(&server.url, extra);
        assert_eq!(code, 2, "{extra:?}: {stderr}");
        assert!(report.is_null());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rate_paces_requests_on_a_schedule() {
    let server = BodyRecorder::start();
    // 100 req/s for 1 s: slots 0..99, whatever the concurrency.
    let (code, report, stderr) = load_plain(
        &server.url,
        &["-c", "4", "-d", "1", "--rate", "100", "--form", "a=b"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_fields(&report);
    assert_eq!(report["rate"], 100.0, "{report:#}");
    let requests = num(&report, "requests");
    assert!((50..=101).contains(&requests), "{report:#}");
    assert_eq!(num(&report, "errors"), 0, "{report:#}");

    let (code, report, _) = load_plain(&server.url, &["-n", "3", "--form", "a=b"]);
    assert_eq!(code, 0);
    assert!(report["rate"].is_null(), "{report:#}");

    let (code, _, stderr) = load_plain(&server.url, &["-n", "3", "--rate", "0"]);
    assert_eq!(code, 2, "{stderr}");
}
