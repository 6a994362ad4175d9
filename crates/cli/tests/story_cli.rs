//! `certbound token`, `certbound demo` and `certbound gateway` as a user
//! runs them, against real `certbound serve` processes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use certbound_testkit::{curl_tls_args, run};
use common::{BIN, Serve, add_client, add_tls_client, certbound, curl, fresh_config};
use serde_json::Value;

#[test]
fn token_command_discovers_and_uses_the_mtls_alias() {
    let (pki, tmp, cfg) = fresh_config(
        "[listeners.mtls]\naddr = \"127.0.0.1:0\"\n[listeners.public]\naddr = \"127.0.0.1:0\"",
    );
    add_client(
        tmp.path(),
        &cfg,
        &[
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

    // `certbound token` as svc, for `scope`, with `more` flags.
    let svc_token = |scope: &str, more: &[&str]| {
        let (cert, key) = (
            svc.cert_path.to_string_lossy(),
            svc.key_path.to_string_lossy(),
        );
        let ca = pki.ca_path().to_string_lossy().into_owned();
        let mut args = vec![
            "token",
            "--as-url",
            &serve.issuer,
            "--cert",
            &cert,
            "--key",
            &key,
            "--cacert",
            &ca,
            "--client-id",
            "svc",
            "--scope",
            scope,
        ];
        args.extend_from_slice(more);
        certbound(tmp.path(), &args)
    };
    let (code, out, err) = svc_token("read", &["--decode"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&alias), "uses the alias: {err}");
    let doc: Value = serde_json::from_str(&out).expect("token output");
    assert_eq!(doc["decoded"]["header"]["typ"], "at+jwt");
    assert_eq!(doc["decoded"]["claims"]["scope"], "read");
    assert_eq!(
        doc["decoded"]["claims"]["cnf"]["x5t#S256"],
        Value::from(svc.thumbprint().to_string())
    );

    // A failure is one clear line naming the OAuth error.
    let (code, _, err) = svc_token("admin", &[]);
    assert_eq!(code, 1);
    assert!(
        err.lines()
            .last()
            .is_some_and(|l| l.starts_with("error: ") && l.contains("invalid_scope")),
        "{err}"
    );
}

#[test]
fn demo_tells_the_whole_story_and_exits_zero() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (code, out, err) = certbound(tmp.path(), &["demo"]);
    assert_eq!(code, 0, "{out}\n{err}");
    for needle in [
        "the token is bound to client A's certificate",
        "401 invalid_token: wrong certificate",
        "401 invalid_token: no certificate",
        "active, with cnf.x5t#S256 of client A",
        "401 after revocation",
        "the token has been revoked",
        "All 6 steps behaved",
    ] {
        assert!(out.contains(needle), "missing '{needle}' in:\n{out}");
    }
    assert!(!out.contains('✘'), "{out}");
}

#[test]
fn gateway_process_accepts_tokens_after_keys_rotate_without_restart() {
    let (pki, tmp, cfg) = fresh_config("[listeners.mtls]\naddr = \"127.0.0.1:0\"");
    add_tls_client(tmp.path(), &cfg, "a", "read", &[]);
    let a = pki.simple_client("a");
    let serve = Serve::start(tmp.path(), &["--config", &cfg], &[]);

    // An upstream that answers 200 to anything (a one-line HTTP server on a thread).
    let upstream_addr = ok_upstream();
    let gw_toml = write_gateway_toml(
        tmp.path(),
        &pki,
        &serve.issuer,
        upstream_addr,
        "jwks_refetch_seconds = 0\n",
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
    let tls = curl_tls_args(&pki.ca_path(), &a.cert_path, &a.key_path);
    let token_url = format!("{}/token", serve.mtls);
    let token = || {
        let mut args: Vec<&str> = tls.iter().map(String::as_str).collect();
        args.extend([
            "-d",
            "grant_type=client_credentials&client_id=a",
            &token_url,
        ]);
        let (_, body) = curl(&args);
        body["access_token"].as_str().unwrap_or_default().to_owned()
    };
    let call = |t: &str| {
        let (_, out, _) = run(Command::new("curl")
            .args([
                "-sS",
                "--noproxy",
                "*",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
            ])
            .args(&tls)
            .args(["-H", &format!("Authorization: Bearer {t}"), &api]));
        out
    };
    let before = token();
    assert_eq!(
        call(&before),
        "200",
        "the gateway fetched and cached the JWKS"
    );
    // The next key is published 3 s before it signs.
    let (code, out, err) = run(Command::new(BIN)
        .current_dir(tmp.path())
        .args(["keys", "rotate", "--config", &cfg])
        .env("CERTBOUND_KEYS__PREPUBLISH_SECONDS", "3"));
    assert_eq!(code, 0, "{out}{err}");
    let next = out
        .split("new key ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap_or_default()
        .to_owned();
    let jwks_url = format!("{}/jwks", serve.mtls);
    let mut args: Vec<&str> = tls.iter().map(String::as_str).collect();
    args.push(&jwks_url);
    let (_, jwks) = curl(&args);
    let published: Vec<&str> = jwks["keys"]
        .as_array()
        .map(|keys| keys.iter().filter_map(|k| k["kid"].as_str()).collect())
        .unwrap_or_default();
    assert!(published.contains(&next.as_str()), "{next} not in {jwks}");
    assert_eq!(
        claims_kid(&token()),
        claims_kid(&before),
        "the old key signs until the new one's time"
    );
    std::thread::sleep(std::time::Duration::from_millis(3500));
    // With jwks_refetch_seconds = 0 the gateway refetches on the first
    // unknown kid; the rate limit itself is tested on a controlled clock.
    let after = token();
    assert_eq!(claims_kid(&after), next, "new tokens carry the new kid");
    assert_eq!(
        call(&after),
        "200",
        "new key accepted without restarting the gateway"
    );
    assert_eq!(call(&before), "200", "the old key is still published");
    drop(gw);
    drop(serve);
}

#[test]
fn gateway_process_started_before_its_as_waits_then_serves() {
    // The AS's port, free until `certbound serve` binds it below.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let (pki, tmp, cfg) = fresh_config(&format!("[listeners.mtls]\naddr = \"127.0.0.1:{port}\""));
    add_tls_client(tmp.path(), &cfg, "a", "read", &[]);
    let a = pki.simple_client("a");
    let issuer = format!("https://localhost:{port}");
    let upstream_addr = ok_upstream();
    let gw_toml = write_gateway_toml(tmp.path(), &pki, &issuer, upstream_addr, "");

    // Nothing listens at the issuer yet: the gateway listens anyway.
    let mut gw = Serve::spawn(
        tmp.path(),
        "gateway",
        &["--config", &gw_toml.to_string_lossy()],
        &[],
        "certbound gateway listening on ",
    );
    let gw_port = gw
        .issuer
        .split(' ')
        .next()
        .and_then(|addr| addr.rsplit(':').next())
        .unwrap_or_default()
        .to_owned();
    let next_line = |gw: &Serve, needle: &str| loop {
        match gw.lines.recv_timeout(std::time::Duration::from_secs(20)) {
            Ok((_, line)) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(e) => panic!("no line with {needle:?}: {e}"),
        }
    };
    let warned = next_line(&gw, "authorization server not reachable yet");
    assert!(
        warned.contains("WARN") && warned.contains(&issuer) && warned.contains("refused"),
        "{warned}"
    );
    assert!(gw.child.try_wait().expect("wait").is_none(), "it exited");
    let tls = curl_tls_args(&pki.ca_path(), &a.cert_path, &a.key_path);
    let readyz = format!("https://localhost:{gw_port}/readyz");
    let get = |url: &str, more: &[&str]| {
        let mut args: Vec<&str> = tls.iter().map(String::as_str).collect();
        args.extend_from_slice(more);
        args.push(url);
        curl(&args).1
    };
    assert_eq!(
        get(&readyz, &[]),
        serde_json::json!({"status": "unavailable", "reason": "waiting for the authorization server"})
    );

    // The AS starts on its port: the same gateway process becomes ready.
    let serve = Serve::start(tmp.path(), &["--config", &cfg], &[]);
    assert_eq!(serve.issuer, issuer);
    let ready = next_line(&gw, "certbound gateway ready on ");
    assert!(ready.ends_with(&gw_port), "{ready}");
    assert_eq!(get(&readyz, &[]), serde_json::json!({"status": "ready"}));
    let token_url = format!("{}/token", serve.mtls);
    let token = get(
        &token_url,
        &["-d", "grant_type=client_credentials&client_id=a"],
    )["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let api = format!("https://localhost:{gw_port}/api/x");
    let (_, out, _) = run(Command::new("curl")
        .args(["-sS", "--noproxy", "*"])
        .args(&tls)
        .args(["-H", &format!("Authorization: Bearer {token}"), &api]));
    assert_eq!(out, "ok");
    assert!(gw.child.try_wait().expect("wait").is_none());
    drop(gw);
    drop(serve);
}

fn claims_kid(token: &str) -> Value {
    certbound_testkit::jwt_header(token)["kid"].clone()
}

/// An upstream that answers 200 to anything (a one-line HTTP server on a thread).
fn ok_upstream() -> std::net::SocketAddr {
    let upstream = std::net::TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let addr = upstream.local_addr().expect("addr");
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut conn in upstream.incoming().map_while(Result::ok) {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    addr
}

/// `DIR/gateway.toml`: an mTLS gateway trusting `issuer`, `/api` (scope
/// `read`) routed to `upstream`, `policy` lines after the audience.
fn write_gateway_toml(
    dir: &std::path::Path,
    pki: &certbound_testkit::TestPki,
    issuer: &str,
    upstream: std::net::SocketAddr,
    policy: &str,
) -> std::path::PathBuf {
    let path = dir.join("gateway.toml");
    std::fs::write(
        &path,
        format!(
            "[listener]\nmode = \"mtls\"\naddr = \"127.0.0.1:0\"\n[tls]\ncert = \"{cert}\"\nkey = \"{key}\"\nclient_ca = \"{ca}\"\n[authorization_server]\nissuer = \"{issuer}\"\nca = \"{ca}\"\n[policy]\naudience = \"{issuer}\"\n{policy}[[routes]]\npath_prefix = \"/api\"\nupstream = \"http://{upstream}\"\nscopes = [\"read\"]\n",
            cert = pki.dir().join("server.pem").display(),
            key = pki.dir().join("server.key").display(),
            ca = pki.ca_path().display(),
        ),
    )
    .expect("write gateway.toml");
    path
}
