//! `certbound serve | clients | keys | config` as a user runs them: real
//! processes, real PostgreSQL and SQLite, curl as the client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use certbound_testkit::{TestPostgres, request_cn, run};
use common::{
    Serve, add_client, add_tls_client, certbound, claims, curl, fresh_config, fresh_config_with,
    write_config_named,
};
use serde_json::Value;

/// The listeners section of every config here: mTLS on a free port.
const MTLS_ANY_PORT: &str = "[listeners.mtls]\naddr = \"127.0.0.1:0\"";

#[test]
fn first_start_initialises_certbound_data_and_its_curl_line_works() {
    let tmp = tempfile::tempdir().expect("tempdir");
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
    // Owner-only: the directory, the database (it holds the signing key)
    // with its -wal and -shm while the server runs, the config, the keys.
    let data = tmp.path().join("certbound-data");
    for (f, want) in [
        ("", 0o700),
        ("certbound.db", 0o600),
        ("certbound.db-wal", 0o600),
        ("certbound.db-shm", 0o600),
        ("certbound.toml", 0o600),
        ("pki/server.key", 0o600),
        ("pki/ca.key", 0o600),
    ] {
        assert_eq!(mode(&data.join(f)), want, "{f}: {:o}", mode(&data.join(f)));
    }
    assert!(
        !serve.startup.iter().any(|l| l.contains("chmod")),
        "no permission warning on a fresh start: {:#?}",
        serve.startup
    );
    let line = serve.stdout_first_line.clone().unwrap_or_default();
    assert!(line.starts_with("curl "), "{line}");
    let (code, out, err) = run(Command::new("bash")
        .current_dir(tmp.path())
        .args(["-c", &format!("{line} -sS --noproxy '*'")]));
    assert_eq!(code, 0, "{err}");
    let response: Value = serde_json::from_str(&out).expect("token JSON");
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

/// The permission warnings of a `serve` start (the process is stopped again).
fn serve_warnings(dir: &std::path::Path, cfg: &str) -> Vec<String> {
    let serve = Serve::start(dir, &["--config", cfg], &[]);
    serve
        .startup
        .iter()
        .filter(|l| l.contains("chmod 600"))
        .cloned()
        .collect()
}

/// Permission bits of a file or directory.
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn serve_warns_about_a_database_config_or_key_that_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let (pki, tmp, cfg) = fresh_config(MTLS_ANY_PORT);
    let config = std::path::PathBuf::from(&cfg);
    let db = tmp.path().join("certbound.db");
    let key = pki.dir().join("server.key");
    std::fs::write(&db, b"").expect("existing empty database");
    for path in [&db, &config, &key] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).expect("chmod 644");
    }
    let serve = Serve::start(tmp.path(), &["--config", &cfg], &[]);
    for path in [&db, &config, &key] {
        let shown = path.display().to_string();
        let warned = serve.startup.iter().any(|l| {
            l.contains("WARN")
                && l.contains(&format!("{shown} has mode 0644"))
                && l.contains(&format!("chmod 600 {shown}"))
        });
        assert!(warned, "no warning for {shown}: {:#?}", serve.startup);
    }
    drop(serve);

    // SQLite gave the -wal and -shm files the database's mode; they are
    // named too. Once every file is owner-only as told: no warning.
    let wal = tmp.path().join("certbound.db-wal");
    let shm = tmp.path().join("certbound.db-shm");
    let warnings = serve_warnings(tmp.path(), &cfg);
    for path in [&wal, &shm] {
        assert!(
            warnings
                .iter()
                .any(|l| l.contains(&format!("chmod 600 {}", path.display()))),
            "{warnings:#?}"
        );
    }
    for path in [&db, &config, &key, &wal, &shm] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
    }
    let warnings = serve_warnings(tmp.path(), &cfg);
    assert!(warnings.is_empty(), "{warnings:#?}");
}

#[test]
fn two_processes_share_one_postgresql_database() {
    let pg = TestPostgres::create();
    let (pki, tmp, cfg) = fresh_config_with(MTLS_ANY_PORT, |_| pg.url());
    add_tls_client(tmp.path(), &cfg, "alice", "read", &[]);
    let alice = pki.simple_client("alice");
    // Instances behind one load balancer share the issuer name.
    let shared = write_config_named(
        tmp.path(),
        "shared.toml",
        &pki,
        "issuer = \"https://as.example\"",
        &pg.url(),
        MTLS_ANY_PORT,
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
fn clients_keys_and_config_commands() {
    let (pki, tmp, cfg) = fresh_config(MTLS_ANY_PORT);
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
    let selfie_cert = selfie.cert_path.to_string_lossy().into_owned();
    let add_ss = [
        "--id",
        "ss",
        "--auth",
        "self_signed_tls_client_auth",
        "--cert",
        &selfie_cert,
    ];
    add_client(tmp.path(), &cfg, &add_ss);
    let out = add_client(
        tmp.path(),
        &cfg,
        &[
            "--id",
            "sec",
            "--auth",
            "client_secret_basic",
            "--scope",
            "a",
        ],
    );
    assert!(out.contains("client_secret: "), "{out}");
    // Each refused `clients add`, and the words that must name the problem.
    let refused: &[(&[&str], &str)] = &[
        (
            &[
                "--id",
                "two",
                "--auth",
                "tls_client_auth",
                "--subject-dn",
                "CN=a",
                "--san-dns",
                "a",
            ],
            "--san-dns: tls_client_auth takes exactly one matcher",
        ),
        (
            &["--id", "none", "--auth", "tls_client_auth"],
            "--auth: tls_client_auth needs exactly one of",
        ),
        (
            &["--id", "ss2", "--auth", "self_signed_tls_client_auth"],
            "--jwks/--cert: self_signed_tls_client_auth needs jwks",
        ),
        (&add_ss, "already exists"),
        (
            &[
                "--id",
                "x",
                "--auth",
                "tls_client_auth",
                "--subject-dn",
                "CN=a,,",
            ],
            "--subject-dn: tls_client_auth_subject_dn",
        ),
    ];
    for (args, needle) in refused {
        fails(
            &[&["clients", "add", "--config", &cfg][..], args].concat(),
            needle,
        );
    }
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
    let show: Value =
        serde_json::from_str(&ok(&["clients", "show", "ss", "--config", &cfg])).expect("show JSON");
    assert_eq!(
        show["token_endpoint_auth_method"],
        "self_signed_tls_client_auth"
    );
    assert_eq!(show["has_secret"], false);
    assert_eq!(show["may_introspect"], false);
    // --may-introspect is stored, listed and shown.
    let added = ok(&[
        "clients",
        "add",
        "--config",
        &cfg,
        "--id",
        "gw",
        "--auth",
        "tls_client_auth",
        "--subject-dn",
        "CN=gw",
        "--may-introspect",
    ]);
    assert!(added.contains("may introspect any token"), "{added}");
    let gw: Value =
        serde_json::from_str(&ok(&["clients", "show", "gw", "--config", &cfg])).expect("show JSON");
    assert_eq!(gw["may_introspect"], true, "{gw}");
    let list = ok(&["clients", "list", "--config", &cfg]);
    assert!(
        list.contains("gw  tls_client_auth  scope=\"\"  may_introspect"),
        "{list}"
    );
    ok(&["clients", "remove", "gw", "--config", &cfg]);
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

    // Keys: the server creates one on first start; rotate publishes the
    // next key, which signs once keys.prepublish_seconds have passed (by
    // default the key cache, 0 here, + 60 s of /jwks max-age + 300 s of
    // verifier refresh); --now makes a new one sign at once.
    let serve = Serve::start(tmp.path(), &["--config", &cfg], &[]);
    let keys = ok(&["keys", "list", "--config", &cfg]);
    assert_eq!(keys.lines().count(), 1, "{keys}");
    let rotated = ok(&["keys", "rotate", "--config", &cfg]);
    assert!(
        rotated.contains("is published now and signs in 360s (keys.prepublish_seconds)"),
        "{rotated}"
    );
    let keys = ok(&["keys", "list", "--config", &cfg]);
    let count = |what: &str| keys.lines().filter(|l| l.contains(what)).count();
    assert_eq!(count("active, retiring in 3"), 1, "{keys}");
    assert_eq!(count("next, signs in 3"), 1, "{keys}");
    assert_eq!(keys.lines().count(), 2, "{keys}");
    assert!(ok(&["keys", "rotate", "--now", "--config", &cfg]).contains("signs from now on"));
    let keys = ok(&["keys", "list", "--config", &cfg]);
    let count = |what: &str| keys.lines().filter(|l| l.contains(what)).count();
    // The first key signs on until its time; the waiting one never will.
    assert_eq!(count("  active  "), 1, "{keys}");
    assert_eq!(count("active, retiring"), 0, "{keys}");
    assert_eq!(count("retiring, published for"), 2, "{keys}");
    drop(serve);

    // A bad config names the key.
    for (name, text, key) in [
        (
            "bad.toml",
            "[storage]\nurl = \"mysql://x\"\n[listeners.mtls]\naddr = \"127.0.0.1:0\"\n[tls]\ncert=\"a\"\nkey=\"b\"\n",
            "key `storage.url`",
        ),
        (
            "missing.toml",
            "[storage]\nurl = \"sqlite://x.db\"\n[listeners.mtls]\naddr = \"127.0.0.1:0\"\n[tls]\ncert=\"nope.pem\"\nkey=\"nope.key\"\n",
            "key `tls.cert`",
        ),
    ] {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).expect("write");
        fails(
            &["config", "check", "--config", &path.to_string_lossy()],
            key,
        );
    }
}

#[test]
fn audit_events_are_structured_and_never_carry_secrets_or_tokens() {
    let (pki, tmp, cfg) = fresh_config(MTLS_ANY_PORT);
    add_tls_client(tmp.path(), &cfg, "alice", "", &[]);
    let out = add_client(
        tmp.path(),
        &cfg,
        &["--id", "sec", "--auth", "client_secret_post"],
    );
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
fn keys_rotate_keeps_the_old_key_published_for_the_servers_token_lifetime() {
    // The file says 300 s tokens (the default); the running server is told
    // 3600 s by its environment, which `keys rotate` never sees.
    let (_pki, tmp, cfg) = fresh_config(MTLS_ANY_PORT);
    let serve = Serve::start(
        tmp.path(),
        &["--config", &cfg],
        &[("CERTBOUND_TOKENS__ACCESS_TOKEN_TTL", "3600")],
    );
    let (code, before, err) = certbound(tmp.path(), &["keys", "list", "--config", &cfg]);
    assert_eq!(code, 0, "{err}");
    assert!(
        before.contains("active  tokens up to 3600s (+0s key cache)"),
        "{before}"
    );
    let (code, out, err) = certbound(tmp.path(), &["keys", "rotate", "--now", "--config", &cfg]);
    assert_eq!(code, 0, "{err}");
    // 3600 s tokens + 0 s key cache (keys.cache_seconds = 0) + 60 s margin,
    // not the 300 + 0 + 60 the rotating process's own config implies.
    assert!(
        out.contains("the previous key stays published for 3660s"),
        "{out}"
    );
    let (code, list, err) = certbound(tmp.path(), &["keys", "list", "--config", &cfg]);
    assert_eq!(code, 0, "{err}");
    let retired = list
        .lines()
        .find(|l| l.contains("retiring"))
        .unwrap_or_default();
    let left: i64 = retired
        .split("published for ")
        .nth(1)
        .and_then(|r| r.split('s').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        (3600..=3660).contains(&left) && retired.contains("tokens up to 3600s"),
        "{list}"
    );
    drop(serve);
}

/// Ctrl-C or SIGTERM while start-up waits on an unreachable database stops
/// `serve` at once with exit code 0, instead of after the connect timeout
/// with an error.
#[test]
fn a_signal_during_start_up_stops_serve_cleanly_at_once() {
    use std::io::Read;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    // "PostgreSQL" that accepts connections and never answers: connecting hangs.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    silent.set_nonblocking(true).unwrap();
    let url = format!(
        "postgres://postgres@{}/certbound",
        silent.local_addr().unwrap()
    );
    let (_pki, tmp, cfg) = fresh_config_with(MTLS_ANY_PORT, |_| url);
    let mut child = Command::new(common::BIN)
        .current_dir(tmp.path())
        .args(["serve", "--config", &cfg])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Once it connects, serve is inside start-up and listening for signals.
    let deadline = Instant::now() + Duration::from_secs(30);
    let _held = loop {
        match silent.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("accept: {e}"),
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("serve exited ({status}) before connecting to the database");
        }
        assert!(Instant::now() < deadline, "serve never connected");
        std::thread::sleep(Duration::from_millis(20));
    };
    let signalled = Instant::now();
    let killed = Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());

    // Well within the 5 s the connect would wait before failing.
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if signalled.elapsed() > Duration::from_secs(3) {
            let _ = child.kill();
            panic!("serve still running 3 s after SIGTERM during start-up");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("stopped before start-up finished"),
        "{stderr}"
    );
}
