//! `certbound serve | clients | keys | token | config` as a user runs them:
//! real processes, real PostgreSQL and SQLite, curl as the client.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use certbound_testkit::{TestPki, TestPostgres, or_panic, request_cn, require_tool, run};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_certbound");

fn certbound(dir: &Path, args: &[&str]) -> (i32, String, String) {
    run(Command::new(BIN).current_dir(dir).args(args))
}

/// A `certbound serve` child process; killed on drop.
struct Serve {
    child: Child,
    lines: mpsc::Receiver<(bool, String)>,
    issuer: String,
    mtls: String,
    stdout_first_line: Option<String>,
}

impl Serve {
    fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(dir, "serve", args, env, "certbound ready; issuer ")
    }

    /// Runs `certbound SUBCOMMAND ARGS…` until it prints `ready_prefix`; the
    /// rest of that line lands in `issuer`.
    fn spawn(
        dir: &Path,
        subcommand: &str,
        args: &[&str],
        env: &[(&str, &str)],
        ready_prefix: &str,
    ) -> Self {
        let mut child = or_panic(
            Command::new(BIN)
                .current_dir(dir)
                .arg(subcommand)
                .args(args)
                .envs(env.iter().copied())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn(),
            "spawn certbound serve",
        );
        let (tx, rx) = mpsc::channel::<(bool, String)>();
        if let Some(err) = child.stderr.take() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    let _ = tx.send((false, line));
                }
            });
        }
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    let _ = tx.send((true, line));
                }
            });
        }
        let mut issuer = None;
        let mut mtls = String::new();
        let mut stdout_first_line = None;
        let mut seen = Vec::new();
        while let Ok((is_stdout, line)) = rx.recv_timeout(Duration::from_secs(30)) {
            if is_stdout {
                stdout_first_line.get_or_insert(line.clone());
            } else if let Some(rest) = line.strip_prefix("mtls listener ") {
                mtls = rest.to_owned();
            } else if let Some(rest) = line.strip_prefix(ready_prefix) {
                issuer = Some(rest.to_owned());
            }
            seen.push(line);
            if issuer.is_some() && (stdout_first_line.is_some() || !args.is_empty()) {
                break;
            }
        }
        let Some(issuer) = issuer else {
            let _ = child.kill();
            panic!("certbound serve did not become ready:\n{}", seen.join("\n"));
        };
        Self {
            child,
            lines: rx,
            issuer,
            mtls,
            stdout_first_line,
        }
    }

    /// SIGTERM, wait, and return every stderr line printed after start-up.
    fn terminate_collecting_stderr(mut self) -> Vec<String> {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        let mut out = Vec::new();
        while let Ok((is_stdout, line)) = self.lines.recv_timeout(Duration::from_secs(2)) {
            if !is_stdout {
                out.push(line);
            }
        }
        out
    }

    /// SIGTERM and wait; returns the exit code.
    fn terminate(mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let status = self.child.wait().ok();
        status.and_then(|s| s.code())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn curl(args: &[&str]) -> (i32, Value) {
    let (code, out, err) = run(Command::new(require_tool("curl"))
        .args(["-sS", "--noproxy", "*", "--max-time", "20"])
        .args(args));
    (
        code,
        serde_json::from_str(&out).unwrap_or(Value::String(format!("{out}{err}"))),
    )
}

fn write_config(dir: &Path, pki: &TestPki, storage: &str, listeners: &str) -> PathBuf {
    write_config_named(dir, "certbound.toml", pki, "", storage, listeners)
}

fn write_config_named(
    dir: &Path,
    name: &str,
    pki: &TestPki,
    top: &str,
    storage: &str,
    listeners: &str,
) -> PathBuf {
    let path = dir.join(name);
    let text = format!(
        "{top}\n[storage]\nurl = \"{storage}\"\n[tls]\ncert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"\n{listeners}\n[keys]\ncache_seconds = 0\n",
        pki.dir().join("server.pem").display(),
        pki.dir().join("server.key").display(),
        pki.ca_path().display(),
    );
    or_panic(std::fs::write(&path, text), "write config");
    path
}

fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap_or_default();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap_or_default(),
    )
    .unwrap_or(Value::Null)
}

#[test]
fn first_start_initialises_certbound_data_and_its_curl_line_works() {
    let tmp = or_panic(tempfile::tempdir(), "tempdir");
    let serve = Serve::start(
        tmp.path(),
        &[],
        &[("CERTBOUND_LISTENERS__MTLS__ADDR", "127.0.0.1:0")],
    );
    for f in [
        "certbound.toml",
        "certbound.db",
        "pki/ca.pem",
        "pki/server.key",
        "pki/demo-client.pem",
    ] {
        assert!(
            tmp.path().join("certbound-data").join(f).is_file(),
            "{f} missing"
        );
    }
    let line = serve.stdout_first_line.clone().unwrap_or_default();
    assert!(line.starts_with("curl "), "{line}");
    let (code, out, err) = run(Command::new("bash")
        .current_dir(tmp.path())
        .args(["-c", &format!("{line} -sS --noproxy '*'")]));
    assert_eq!(code, 0, "{err}");
    let response: Value = or_panic(serde_json::from_str(&out), "token JSON");
    let token = response["access_token"].as_str().unwrap_or_default();
    let cert = tmp.path().join("certbound-data/pki/demo-client.pem");
    let x5t =
        certbound_core::Thumbprint::of_der(&certbound_testkit::load_certs(&cert)[0]).to_string();
    assert_eq!(claims(token)["cnf"]["x5t#S256"], Value::from(x5t));
    assert_eq!(serve.terminate(), Some(0), "SIGTERM is a clean exit");

    // A second start reuses ./certbound-data and its signing key.
    let again = Serve::start(
        tmp.path(),
        &[],
        &[("CERTBOUND_LISTENERS__MTLS__ADDR", "127.0.0.1:0")],
    );
    let (code, keys, _) = certbound(tmp.path(), &["keys", "list"]);
    assert_eq!(code, 0);
    assert_eq!(
        keys.lines().filter(|l| l.contains("active")).count(),
        1,
        "{keys}"
    );
    drop(again);
}

#[test]
fn two_processes_share_one_postgresql_database() {
    let pki = TestPki::new();
    let pg = TestPostgres::create();
    let tmp = or_panic(tempfile::tempdir(), "tempdir");
    let config = write_config(
        tmp.path(),
        &pki,
        &pg.url(),
        "[listeners.mtls]\naddr = \"127.0.0.1:0\"",
    );
    let cfg = config.to_string_lossy().into_owned();
    let (code, out, err) = certbound(
        tmp.path(),
        &[
            "clients",
            "add",
            "--config",
            &cfg,
            "--id",
            "alice",
            "--auth",
            "tls_client_auth",
            "--subject-dn",
            "CN=alice",
            "--scope",
            "read",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let alice = pki.simple_client("alice");
    // Instances behind one load balancer share the issuer name.
    let shared = write_config_named(
        tmp.path(),
        "shared.toml",
        &pki,
        "issuer = \"https://as.example\"",
        &pg.url(),
        "[listeners.mtls]\naddr = \"127.0.0.1:0\"",
    );
    let shared = shared.to_string_lossy().into_owned();
    let a = Serve::start(tmp.path(), &["--config", &shared], &[]);
    let b = Serve::start(tmp.path(), &["--config", &shared], &[]);
    assert_ne!(a.mtls, b.mtls, "two processes, two ports");
    let ca = pki.ca_path().to_string_lossy().into_owned();
    let (cert, key) = (
        alice.cert_path.to_string_lossy().into_owned(),
        alice.key_path.to_string_lossy().into_owned(),
    );
    let with_cert = |url: String, data: String| {
        curl(&[
            "--cacert", &ca, "--cert", &cert, "--key", &key, "-d", &data, &url,
        ])
    };

    let (code, issued) = with_cert(
        format!("{}/token", a.mtls),
        "grant_type=client_credentials&client_id=alice".into(),
    );
    assert_eq!(code, 0);
    let token = issued["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!token.is_empty(), "{issued}");
    let (_, info) = with_cert(
        format!("{}/introspect", b.mtls),
        format!("client_id=alice&token={token}"),
    );
    assert_eq!(info["active"], true, "B sees A's token: {info}");
    assert_eq!(
        info["cnf"]["x5t#S256"],
        Value::from(alice.thumbprint().to_string())
    );
    assert_eq!(info["iss"], "https://as.example");
    let (code, _) = with_cert(
        format!("{}/revoke", b.mtls),
        format!("client_id=alice&token={token}"),
    );
    assert_eq!(code, 0);
    let (_, info) = with_cert(
        format!("{}/introspect", a.mtls),
        format!("client_id=alice&token={token}"),
    );
    assert_eq!(
        info,
        serde_json::json!({"active": false}),
        "A sees B's revocation"
    );
    drop((a, b));
}

#[test]
fn token_command_discovers_and_uses_the_mtls_alias() {
    let pki = TestPki::new();
    let tmp = or_panic(tempfile::tempdir(), "tempdir");
    let storage = certbound_testkit::sqlite_url(tmp.path());
    let config = write_config(
        tmp.path(),
        &pki,
        &storage,
        "[listeners.mtls]\naddr = \"127.0.0.1:0\"\n[listeners.public]\naddr = \"127.0.0.1:0\"",
    );
    let cfg = config.to_string_lossy().into_owned();
    let (code, _, err) = certbound(
        tmp.path(),
        &[
            "clients",
            "add",
            "--config",
            &cfg,
            "--id",
            "svc",
            "--auth",
            "tls_client_auth",
            "--san-dns",
            "svc.example",
            "--scope",
            "read write",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let svc = pki.client(
        "svc",
        certbound_pki::CertificateRequest {
            common_name: Some("svc".into()),
            dns: vec!["svc.example".into()],
            ..Default::default()
        },
    );
    let serve = Serve::start(tmp.path(), &["--config", &cfg], &[]);

    // The issuer is the public (no client certificate) listener; the token
    // endpoint there cannot see a certificate, so only the alias works.
    let meta = curl(&[
        "--cacert",
        &pki.ca_path().to_string_lossy(),
        &format!("{}/.well-known/oauth-authorization-server", serve.issuer),
    ])
    .1;
    assert_eq!(meta["tls_client_certificate_bound_access_tokens"], true);
    let alias = meta["mtls_endpoint_aliases"]["token_endpoint"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        alias.ends_with("/token") && !alias.starts_with(&serve.issuer),
        "{meta}"
    );
    assert!(
        meta["token_endpoint_auth_methods_supported"]
            .as_array()
            .is_some_and(|m| m.contains(&Value::from("tls_client_auth")))
    );

    let (code, out, err) = certbound(
        tmp.path(),
        &[
            "token",
            "--as-url",
            &serve.issuer,
            "--cert",
            &svc.cert_path.to_string_lossy(),
            "--key",
            &svc.key_path.to_string_lossy(),
            "--cacert",
            &pki.ca_path().to_string_lossy(),
            "--client-id",
            "svc",
            "--scope",
            "read",
            "--decode",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&alias), "uses the alias: {err}");
    let doc: Value = or_panic(serde_json::from_str(&out), "token output");
    assert_eq!(doc["decoded"]["header"]["typ"], "at+jwt");
    assert_eq!(doc["decoded"]["claims"]["scope"], "read");
    assert_eq!(
        doc["decoded"]["claims"]["cnf"]["x5t#S256"],
        Value::from(svc.thumbprint().to_string())
    );

    // A failure is one clear line naming the OAuth error.
    let (code, _, err) = certbound(
        tmp.path(),
        &[
            "token",
            "--as-url",
            &serve.issuer,
            "--cert",
            &svc.cert_path.to_string_lossy(),
            "--key",
            &svc.key_path.to_string_lossy(),
            "--cacert",
            &pki.ca_path().to_string_lossy(),
            "--client-id",
            "svc",
            "--scope",
            "admin",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        err.lines()
            .last()
            .is_some_and(|l| l.starts_with("error: ") && l.contains("invalid_scope")),
        "{err}"
    );
}

#[test]
fn clients_keys_and_config_commands() {
    let pki = TestPki::new();
    let tmp = or_panic(tempfile::tempdir(), "tempdir");
    let storage = certbound_testkit::sqlite_url(tmp.path());
    let config = write_config(
        tmp.path(),
        &pki,
        &storage,
        "[listeners.mtls]\naddr = \"127.0.0.1:0\"",
    );
    let cfg = config.to_string_lossy().into_owned();
    let selfie = pki.self_signed("selfie", request_cn("selfie"));
    let ok = |args: &[&str]| {
        let (code, out, err) = certbound(tmp.path(), args);
        assert_eq!(code, 0, "{args:?}: {err}");
        out
    };
    let fails = |args: &[&str], needle: &str| {
        let (code, out, err) = certbound(tmp.path(), args);
        assert_eq!(code, 1, "{args:?}: {out}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"));
    };
    assert!(ok(&["config", "check", "--config", &cfg]).contains(": ok"));
    ok(&[
        "clients",
        "add",
        "--config",
        &cfg,
        "--id",
        "ss",
        "--auth",
        "self_signed_tls_client_auth",
        "--cert",
        &selfie.cert_path.to_string_lossy(),
    ]);
    let out = ok(&[
        "clients",
        "add",
        "--config",
        &cfg,
        "--id",
        "sec",
        "--auth",
        "client_secret_basic",
        "--scope",
        "a",
    ]);
    assert!(out.contains("client_secret: "), "{out}");
    fails(
        &[
            "clients",
            "add",
            "--config",
            &cfg,
            "--id",
            "two",
            "--auth",
            "tls_client_auth",
            "--subject-dn",
            "CN=a",
            "--san-dns",
            "a",
        ],
        "exactly one matcher",
    );
    fails(
        &[
            "clients",
            "add",
            "--config",
            &cfg,
            "--id",
            "none",
            "--auth",
            "tls_client_auth",
        ],
        "needs exactly one of",
    );
    fails(
        &[
            "clients",
            "add",
            "--config",
            &cfg,
            "--id",
            "ss2",
            "--auth",
            "self_signed_tls_client_auth",
        ],
        "needs jwks",
    );
    fails(
        &[
            "clients",
            "add",
            "--config",
            &cfg,
            "--id",
            "ss",
            "--auth",
            "self_signed_tls_client_auth",
            "--cert",
            &selfie.cert_path.to_string_lossy(),
        ],
        "already exists",
    );
    fails(
        &[
            "clients",
            "add",
            "--config",
            &cfg,
            "--id",
            "x",
            "--auth",
            "tls_client_auth",
            "--subject-dn",
            "CN=a,,",
        ],
        "tls_client_auth_subject_dn",
    );
    // clap's usage errors exit 2, with the same helpful message.
    let (code, _, err) = certbound(
        tmp.path(),
        &[
            "clients", "add", "--config", &cfg, "--id", "x", "--auth", "bogus",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("unsupported auth method 'bogus'"), "{err}");
    let list = ok(&["clients", "list", "--config", &cfg]);
    assert!(
        list.contains("ss  self_signed_tls_client_auth")
            && list.contains("sec  client_secret_basic"),
        "{list}"
    );
    let show: Value = or_panic(
        serde_json::from_str(&ok(&["clients", "show", "ss", "--config", &cfg])),
        "show JSON",
    );
    assert_eq!(
        show["token_endpoint_auth_method"],
        "self_signed_tls_client_auth"
    );
    assert_eq!(show["has_secret"], false);
    let secret_show = ok(&["clients", "show", "sec", "--config", &cfg]);
    assert!(
        !secret_show.contains("sha256:"),
        "the hash is not printed: {secret_show}"
    );
    ok(&["clients", "remove", "ss", "--config", &cfg]);
    fails(
        &["clients", "remove", "ss", "--config", &cfg],
        "no client 'ss'",
    );

    // Keys: the server creates one on first start; rotate adds a new active key.
    let serve = Serve::start(tmp.path(), &["--config", &cfg], &[]);
    let keys = ok(&["keys", "list", "--config", &cfg]);
    assert_eq!(keys.lines().count(), 1, "{keys}");
    assert!(ok(&["keys", "rotate", "--config", &cfg]).contains("new active key"));
    let keys = ok(&["keys", "list", "--config", &cfg]);
    assert_eq!(
        keys.lines().filter(|l| l.contains("active")).count(),
        1,
        "{keys}"
    );
    assert_eq!(
        keys.lines()
            .filter(|l| l.contains("retired, published"))
            .count(),
        1,
        "{keys}"
    );
    drop(serve);

    // A bad config names the key.
    let bad = tmp.path().join("bad.toml");
    or_panic(
        std::fs::write(
            &bad,
            "[storage]\nurl = \"mysql://x\"\n[listeners.mtls]\naddr = \"127.0.0.1:0\"\n[tls]\ncert=\"a\"\nkey=\"b\"\n",
        ),
        "write",
    );
    fails(
        &["config", "check", "--config", &bad.to_string_lossy()],
        "key `storage.url`",
    );
    let missing_file = tmp.path().join("missing.toml");
    or_panic(
        std::fs::write(
            &missing_file,
            "[storage]\nurl = \"sqlite://x.db\"\n[listeners.mtls]\naddr = \"127.0.0.1:0\"\n[tls]\ncert=\"nope.pem\"\nkey=\"nope.key\"\n",
        ),
        "write",
    );
    fails(
        &[
            "config",
            "check",
            "--config",
            &missing_file.to_string_lossy(),
        ],
        "key `tls.cert`",
    );
}

#[test]
fn audit_events_are_structured_and_never_carry_secrets_or_tokens() {
    let pki = TestPki::new();
    let tmp = or_panic(tempfile::tempdir(), "tempdir");
    let storage = certbound_testkit::sqlite_url(tmp.path());
    let config = write_config(
        tmp.path(),
        &pki,
        &storage,
        "[listeners.mtls]\naddr = \"127.0.0.1:0\"",
    );
    let cfg = config.to_string_lossy().into_owned();
    let (code, _, err) = certbound(
        tmp.path(),
        &[
            "clients",
            "add",
            "--config",
            &cfg,
            "--id",
            "alice",
            "--auth",
            "tls_client_auth",
            "--subject-dn",
            "CN=alice",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = certbound(
        tmp.path(),
        &[
            "clients",
            "add",
            "--config",
            &cfg,
            "--id",
            "sec",
            "--auth",
            "client_secret_post",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .unwrap_or_default()
        .to_owned();
    assert!(secret.len() >= 40, "{out}");
    let alice = pki.simple_client("alice");
    let serve = Serve::start(
        tmp.path(),
        &["--config", &cfg],
        &[("CERTBOUND_LOG", "info")],
    );
    let ca = pki.ca_path().to_string_lossy().into_owned();
    let (cert, key) = (
        alice.cert_path.to_string_lossy().into_owned(),
        alice.key_path.to_string_lossy().into_owned(),
    );
    let mtls = serve.mtls.clone();
    let post = |path: &str, data: String, with_cert: bool| {
        let url = format!("{mtls}{path}");
        let mut args = vec!["--cacert", &ca, "-d", &data, &url];
        if with_cert {
            args.extend(["--cert", &cert, "--key", &key]);
        }
        curl(&args).1
    };
    let token = post(
        "/token",
        "grant_type=client_credentials&client_id=alice".into(),
        true,
    )["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let secret_token = post(
        "/token",
        format!("grant_type=client_credentials&client_id=sec&client_secret={secret}"),
        false,
    )["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!token.is_empty() && !secret_token.is_empty());
    post(
        "/token",
        "grant_type=client_credentials&client_id=sec&client_secret=wrong-secret-value".into(),
        false,
    );
    post(
        "/introspect",
        format!("client_id=alice&token={token}"),
        true,
    );
    post("/revoke", format!("client_id=alice&token={token}"), true);
    let lines = serve.terminate_collecting_stderr();

    let events: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "certbound::audit")
        .collect();
    let find = |name: &str| {
        events
            .iter()
            .find(|e| e["fields"]["event"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let authenticated = find("client_authenticated");
    assert_eq!(
        authenticated["fields"]["method"], "tls_client_auth",
        "{lines:#?}"
    );
    assert_eq!(
        authenticated["fields"]["x5t_s256"],
        Value::from(alice.thumbprint().to_string())
    );
    let failed = find("client_authentication_failed");
    assert_eq!(failed["fields"]["reason"], "wrong secret", "{lines:#?}");
    let issued = find("token_issued");
    assert_eq!(issued["fields"]["bound"], true);
    assert!(
        issued["fields"]["jti"]
            .as_str()
            .is_some_and(|j| !j.is_empty())
    );
    assert_eq!(find("token_introspected")["fields"]["active"], true);
    assert_eq!(find("token_revoked")["fields"]["revoked"], true);
    for line in &lines {
        for secret_thing in [
            secret.as_str(),
            "wrong-secret-value",
            token.as_str(),
            secret_token.as_str(),
            "PRIVATE KEY",
        ] {
            assert!(
                !line.contains(secret_thing),
                "a log line leaks a secret or token: {line}"
            );
        }
    }
}

#[test]
fn demo_tells_the_whole_story_and_exits_zero() {
    let tmp = or_panic(tempfile::tempdir(), "tempdir");
    let (code, out, err) = certbound(tmp.path(), &["demo"]);
    assert_eq!(code, 0, "{out}\n{err}");
    for needle in [
        "the token is bound to client A's certificate",
        "401 invalid_token: wrong certificate",
        "401 invalid_token: no certificate",
        "active, with cnf.x5t#S256 of client A",
        "401 after revocation",
        "All 6 steps behaved",
    ] {
        assert!(out.contains(needle), "missing '{needle}' in:\n{out}");
    }
    assert!(!out.contains('✘'), "{out}");
}

#[test]
fn gateway_process_accepts_tokens_after_keys_rotate_without_restart() {
    let pki = TestPki::new();
    let tmp = or_panic(tempfile::tempdir(), "tempdir");
    let storage = certbound_testkit::sqlite_url(tmp.path());
    let config = write_config(
        tmp.path(),
        &pki,
        &storage,
        "[listeners.mtls]\naddr = \"127.0.0.1:0\"",
    );
    let cfg = config.to_string_lossy().into_owned();
    let (code, _, err) = certbound(
        tmp.path(),
        &[
            "clients",
            "add",
            "--config",
            &cfg,
            "--id",
            "a",
            "--auth",
            "tls_client_auth",
            "--subject-dn",
            "CN=a",
            "--scope",
            "read",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let a = pki.simple_client("a");
    let serve = Serve::start(tmp.path(), &["--config", &cfg], &[]);

    // An upstream that answers 200 to anything (a one-line HTTP server on a thread).
    let upstream = or_panic(std::net::TcpListener::bind("127.0.0.1:0"), "bind upstream");
    let upstream_addr = or_panic(upstream.local_addr(), "addr");
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut conn in upstream.incoming().map_while(Result::ok) {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    let gw_toml = tmp.path().join("gateway.toml");
    or_panic(
        std::fs::write(
            &gw_toml,
            format!(
                "[listener]\nmode = \"mtls\"\naddr = \"127.0.0.1:0\"\n[tls]\ncert = \"{cert}\"\nkey = \"{key}\"\nclient_ca = \"{ca}\"\n[authorization_server]\nissuer = \"{issuer}\"\nca = \"{ca}\"\n[[routes]]\npath_prefix = \"/api\"\nupstream = \"http://{upstream_addr}\"\nscopes = [\"read\"]\n",
                cert = pki.dir().join("server.pem").display(),
                key = pki.dir().join("server.key").display(),
                ca = pki.ca_path().display(),
                issuer = serve.issuer,
            ),
        ),
        "write gateway.toml",
    );
    let gw = Serve::spawn(
        tmp.path(),
        "gateway",
        &["--config", &gw_toml.to_string_lossy()],
        &[],
        "certbound gateway ready on ",
    );
    let api = format!(
        "https://localhost:{}/api/x",
        gw.issuer.rsplit(':').next().unwrap_or_default()
    );
    let ca = pki.ca_path().to_string_lossy().into_owned();
    let (cert, key) = (
        a.cert_path.to_string_lossy().into_owned(),
        a.key_path.to_string_lossy().into_owned(),
    );
    let token = || {
        let (_, body) = curl(&[
            "--cacert",
            &ca,
            "--cert",
            &cert,
            "--key",
            &key,
            "-d",
            "grant_type=client_credentials&client_id=a",
            &format!("{}/token", serve.mtls),
        ]);
        body["access_token"].as_str().unwrap_or_default().to_owned()
    };
    let call = |t: &str| {
        let (_, out, _) = run(Command::new("curl").args([
            "-sS",
            "--noproxy",
            "*",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--cacert",
            &ca,
            "--cert",
            &cert,
            "--key",
            &key,
            "-H",
            &format!("Authorization: Bearer {t}"),
            &api,
        ]));
        out
    };
    let before = token();
    assert_eq!(
        call(&before),
        "200",
        "the gateway fetched and cached the JWKS"
    );
    let (code, out, err) = certbound(tmp.path(), &["keys", "rotate", "--config", &cfg]);
    assert_eq!(code, 0, "{out}{err}");
    // The gateway refetches on an unknown kid at most every 5 seconds.
    std::thread::sleep(Duration::from_millis(5200));
    let after = token();
    assert_ne!(
        claims_kid(&after),
        claims_kid(&before),
        "new tokens carry the new kid"
    );
    assert_eq!(
        call(&after),
        "200",
        "new key accepted without restarting the gateway"
    );
    assert_eq!(call(&before), "200", "the old key is still published");
    drop(gw);
    drop(serve);
}

fn claims_kid(token: &str) -> Value {
    use base64::Engine;
    let header = token.split('.').next().unwrap_or_default();
    let json: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap_or_default(),
    )
    .unwrap_or(Value::Null);
    json["kid"].clone()
}
