//! What an adversarial review of the gateway found (issue #14), through the
//! real gateway: a real AS, the echo upstream, curl as the caller.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use certbound_core::AuthMethod;
use certbound_server::RunningServer;
use certbound_server::clients::{ClientMetadata, TokenFormat, hash_secret};
use certbound_testkit::assert_error;
use certbound_testkit::bearer;
use certbound_testkit::gateway::{GatewaySetup, launch_gateway, start_gateway};
use certbound_testkit::server::rotate_key;
use certbound_testkit::server::{AsFixture, jwt_client};
use certbound_testkit::{TestIdentity, TestPki};
use common::{curl, start_as, start_upstream, token};
use serde_json::{Value, json};

/// `who` calls `url` with `token`, the path sent as written (`--path-as-is`).
async fn as_is(pki: &TestPki, who: &TestIdentity, token: &str, url: &str) -> (u16, Value) {
    curl(pki, Some(who), &["--path-as-is", "-H", &bearer(token), url]).await
}

/// Registers `id` (`tls_client_auth` by `CN=id` unless `edit` changes it).
async fn register_with(
    server: &RunningServer,
    id: &str,
    secret: Option<&str>,
    edit: impl FnOnce(&mut ClientMetadata),
) {
    let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
    m.tls_client_auth_subject_dn = Some(format!("CN={id}"));
    m.scope = "read".into();
    edit(&mut m);
    certbound_server::register_client(server.server.store.as_ref(), id, m, secret.map(hash_secret))
        .await
        .expect("register client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_bound_tokens_for_the_gateways_own_url_pass_by_default() {
    let AsFixture { pki, dir, server } = AsFixture::start("").await;
    let upstream = start_upstream().await;
    // No audience and no require_bound_tokens in the config: the defaults.
    let setup = GatewaySetup {
        upstream: &upstream,
        extra: "",
        policy: Some(""),
        upstream_extra: "",
    };
    let gw = start_gateway(&pki, dir.path(), &server.issuer, setup).await;
    let gw_url = format!("https://localhost:{}", gw.addr.port());
    let api = format!("{gw_url}/api/x");
    let for_gw = |m: &mut ClientMetadata| m.audience = Some(gw_url.clone());
    register_with(&server, "mine", None, for_gw).await;
    // Registered without an audience: its tokens carry the AS's default (the issuer).
    register_with(&server, "other", None, |_| {}).await;
    register_with(&server, "nobind", None, |m| {
        for_gw(m);
        m.tls_client_certificate_bound_access_tokens = false;
    })
    .await;
    register_with(&server, "secret", Some("s3cret-s3cret"), |m| {
        for_gw(m);
        m.token_endpoint_auth_method = AuthMethod::ClientSecretBasic.as_str().into();
        m.tls_client_auth_subject_dn = None;
    })
    .await;
    let (mine, other, nobind) = (
        pki.simple_client("mine"),
        pki.simple_client("other"),
        pki.simple_client("nobind"),
    );

    // A bound token for the gateway's own URL passes.
    let t = token(&pki, &server, &mine, "mine").await;
    let (status, seen) = curl(&pki, Some(&mine), &["-H", &bearer(&t), &api]).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["headers"]["x-certbound-client-id"], json!(["mine"]));

    // A bound token of the same AS meant for another audience: 401, though
    // no audience is configured.
    let t = token(&pki, &server, &other, "other").await;
    let (status, body) = curl(&pki, Some(&other), &["-H", &bearer(&t), &api]).await;
    assert_eq!(
        (status, &body),
        (
            401,
            &json!({"error": "invalid_token", "error_description": "the token is not meant for this resource (aud)"})
        )
    );

    // Unbound tokens: a --no-bound-tokens client (presented with and
    // without its certificate) and a client_secret client.
    let unbound = json!({
        "error": "invalid_token",
        "error_description": "the token is not certificate-bound; this resource accepts only certificate-bound tokens"
    });
    let t = token(&pki, &server, &nobind, "nobind").await;
    let claims = certbound_testkit::jwt_claims(&t);
    assert!(claims["cnf"].is_null(), "really unbound: {claims}");
    assert_eq!(claims["aud"], json!(gw_url));
    for who in [Some(&nobind), None] {
        let (status, body) = curl(&pki, who, &["-H", &bearer(&t), &api]).await;
        assert_eq!((status, &body), (401, &unbound));
    }
    let token_url = format!("{}/token", server.mtls_url.clone().unwrap_or_default());
    let (status, body) = curl(
        &pki,
        None,
        &[
            "-u",
            "secret:s3cret-s3cret",
            "-d",
            "grant_type=client_credentials",
            &token_url,
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let t = body["access_token"].as_str().unwrap_or_default().to_owned();
    let (status, challenge, body) =
        certbound_testkit::server::curl_with_challenge(&pki, None, &["-H", &bearer(&t), &api])
            .await;
    assert_eq!((status, &body), (401, &unbound));
    assert!(
        challenge.starts_with("bearer realm=\"certbound\", error=\"invalid_token\""),
        "{challenge}"
    );
    gw.stop().await;

    // The switch still exists: with it off, the same unbound token passes.
    let policy = format!("require_bound_tokens = false\naudience = \"{gw_url}\"");
    let setup = GatewaySetup {
        upstream: &upstream,
        extra: "",
        policy: Some(&policy),
        upstream_extra: "",
    };
    let open = start_gateway(&pki, dir.path(), &server.issuer, setup).await;
    let api = format!("https://localhost:{}/api/x", open.addr.port());
    let (status, seen) = curl(&pki, None, &["-H", &bearer(&t), &api]).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["headers"]["x-certbound-client-id"], json!(["secret"]));
    open.stop().await;
    server.stop().await;
}

/// curl's whole answer, status line, headers and body, as text.
async fn curl_raw(
    pki: &TestPki,
    who: Option<&certbound_testkit::TestIdentity>,
    args: &[&str],
) -> String {
    let mut cmd = tokio::process::Command::new(certbound_testkit::require_tool("curl"));
    cmd.args(["-sS", "-i", "--noproxy", "*", "--cacert"])
        .arg(pki.ca_path());
    if let Some(id) = who {
        cmd.arg("--cert")
            .arg(&id.cert_path)
            .arg("--key")
            .arg(&id.key_path);
    }
    let out = cmd.args(args).output().await.expect("curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A 503 that tells the caller to come back (after `retry_after` seconds,
/// or any number of them when `None`) and nothing about the network.
fn assert_generic_unavailable(answer: &str, issuer: &str, retry_after: Option<u64>) {
    let lower = answer.to_ascii_lowercase();
    assert_eq!(lower.split(' ').nth(1), Some("503"), "{answer}");
    let wait = lower
        .lines()
        .find_map(|l| l.strip_prefix("retry-after: "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    match retry_after {
        Some(expected) => assert_eq!(wait, Some(expected), "{answer}"),
        None => assert!(wait.is_some_and(|w| w >= 1), "{answer}"),
    }
    assert!(
        answer.ends_with(r#"{"error":"temporarily_unavailable","error_description":"the authorization server is temporarily unavailable; retry shortly"}"#),
        "{answer}"
    );
    let port = issuer.rsplit(':').next().unwrap_or_default();
    for secret in [
        "jwks",
        port,
        "localhost",
        "refused",
        "connect",
        "error sending",
    ] {
        assert!(
            !lower.contains(secret),
            "the answer mentions {secret:?}: {answer}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_as_is_a_generic_503_and_an_unseen_kid_is_not_a_bad_token() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let upstream = start_upstream().await;
    let a = pki.simple_client("a");

    // AS gone before the gateway had its keys: not ready, 503, twice (the
    // second after more failed attempts), Retry-After the gateway's backoff.
    let server = start_as(&pki, dir.path(), "").await;
    common::register(&server, "a", "read", TokenFormat::Jwt).await;
    let issuer = server.issuer.clone();
    let t = token(&pki, &server, &a, "a").await;
    server.stop().await;
    let gw = launch_gateway(&pki, dir.path(), &issuer, GatewaySetup::new(&upstream, "")).await;
    let api = format!("https://localhost:{}/api/x", gw.addr.port());
    for _ in 0..2 {
        let answer = curl_raw(&pki, Some(&a), &["-H", &bearer(&t), &api]).await;
        assert_generic_unavailable(&answer, &issuer, None);
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    }
    gw.stop().await;

    // Keys cached, the AS rotates, then goes away: the new kid is 503, not
    // 401, both when the refetch fails and right after (rate-limited).
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_as(&pki, dir.path(), "").await;
    common::register(&server, "a", "read", TokenFormat::Jwt).await;
    let issuer = server.issuer.clone();
    let clock = std::sync::Arc::new(certbound_core::ManualClock::new());
    let gw = common::start_gateway_clocked(
        &pki,
        dir.path(),
        &issuer,
        &upstream,
        "",
        std::sync::Arc::clone(&clock),
    )
    .await;
    let api = format!("https://localhost:{}/api/x", gw.addr.port());
    let before = token(&pki, &server, &a, "a").await;
    let (status, body) = curl(&pki, Some(&a), &["-H", &bearer(&before), &api]).await;
    assert_eq!(status, 200, "{body}");
    rotate_key(&server).await;
    let after = token(&pki, &server, &a, "a").await;
    server.stop().await;
    // Past jwks_refetch_seconds (1 s in this config), so the gateway tries.
    clock.advance(std::time::Duration::from_millis(1100));
    for _ in 0..2 {
        let answer = curl_raw(&pki, Some(&a), &["-H", &bearer(&after), &api]).await;
        assert_generic_unavailable(&answer, &issuer, Some(5));
    }
    // The kid it has keeps working meanwhile.
    let (status, body) = curl(&pki, Some(&a), &["-H", &bearer(&before), &api]).await;
    assert_eq!(status, 200, "{body}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_and_certificate_headers_under_other_spellings_never_reach_the_upstream() {
    let AsFixture { pki, dir, server } = AsFixture::start("").await;
    let a = jwt_client(&server, &pki, "a", "read").await;
    let upstream = start_upstream().await;
    // forward_client_cert = true: the gateway sets Client-Cert itself.
    let gw = common::start_gateway(&pki, dir.path(), &server.issuer, &upstream, "").await;
    let base = format!("https://localhost:{}", gw.addr.port());
    let t = token(&pki, &server, &a, "a").await;
    let spoofed = [
        "X-Certbound-Client-Id",
        "X_Certbound_Client_Id",
        "x.certbound.subject",
        "X-CERTBOUND_SCOPE",
        "x_certbound_cert_thumbprint",
        "X.Certbound-Cert_Chain",
        "X~Certbound~Anything",
        "Client-Cert",
        "Client_Cert",
        "client.cert.chain",
        "X-Client-Cert",
        "X_Client_Cert",
        "ssl-client-cert",
        "SSL_Client_Verify",
        "X-SSL-Client-Cert",
        "x_ssl_client_s_dn",
        "X-Forwarded-Client-Cert",
        "X-Forwarded_Client-Cert",
        "X_Forwarded_For",
        // Other proxies' certificate conventions (nginx, Traefik, IIS, ALB).
        "X-SSL-Cert",
        "X-Forwarded-Tls-Client-Cert",
        "X_ARR_ClientCert",
        "X-Amzn-Mtls-Clientcert",
        "X-Client-Verify",
        // Where the request came from: only a trusted proxy may say.
        "Forwarded",
        "X-Real-IP",
        "X_Forwarded_Host",
        "True-Client-IP",
    ];
    let mut args: Vec<String> = vec!["-H".into(), bearer(&t)];
    for name in spoofed {
        args.extend(["-H".into(), format!("{name}: admin")]);
    }
    args.push(format!("{base}/api/x"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (status, seen) = curl(&pki, Some(&a), &args).await;
    assert_eq!(status, 200, "{seen}");
    let mut names: Vec<&str> = seen["headers"]
        .as_object()
        .map(|h| h.keys().map(String::as_str).collect())
        .unwrap_or_default();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "accept",
            "authorization",
            "client-cert",
            "host",
            "user-agent",
            "x-certbound-cert-chain",
            "x-certbound-cert-thumbprint",
            "x-certbound-client-id",
            "x-certbound-scope",
            "x-certbound-subject",
            "x-forwarded-for",
        ],
        "{seen}"
    );
    // Each of those once, with the gateway's values.
    for (name, value) in [
        ("x-certbound-client-id", "a".to_owned()),
        ("x-certbound-subject", "a".to_owned()),
        ("x-certbound-scope", "read".to_owned()),
        ("x-certbound-cert-thumbprint", a.thumbprint().to_string()),
        ("x-forwarded-for", "127.0.0.1".to_owned()),
        ("x-certbound-cert-chain", "valid".to_owned()),
        (
            "client-cert",
            format!(
                ":{}:",
                base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    &a.issued.cert_der
                )
            ),
        ),
    ] {
        assert_eq!(seen["headers"][name], json!([value]), "{name}");
    }

    // TRACE (and TRACK, CONNECT) is refused at the proxy and at the check
    // endpoint, token or not.
    for (method, path) in [
        ("TRACE", "/api/x"),
        ("TRACE", "/certbound/check/api/x"),
        ("TRACE", "/certbound/check"),
        ("TRACK", "/api/x"),
    ] {
        let answer = curl_raw(
            &pki,
            Some(&a),
            &["-X", method, "-H", &bearer(&t), &format!("{base}{path}")],
        )
        .await;
        let lower = answer.to_ascii_lowercase();
        assert_eq!(
            lower.split(' ').nth(1),
            Some("405"),
            "{method} {path}: {answer}"
        );
        assert!(
            lower.contains("\r\nallow: get, head, post, put, patch, delete, options\r\n"),
            "{answer}"
        );
        assert!(
            answer.ends_with(&format!(
                r#"{{"error":"invalid_request","error_description":"the {method} method is not allowed"}}"#
            )),
            "{answer}"
        );
        assert!(!answer.contains(&t), "the token is not echoed");
    }
    gw.stop().await;
    server.stop().await;
}

/// An upstream that records the path of every request it gets.
async fn start_recording_upstream() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use axum::routing::any;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&seen);
    let app = axum::Router::new().fallback(any(move |uri: http::Uri| {
        let log = std::sync::Arc::clone(&log);
        async move {
            if let Ok(mut l) = log.lock() {
                l.push(uri.to_string());
            }
            "seen"
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_an_upstream_reads_differently_are_refused_before_it_sees_them() {
    let AsFixture { pki, dir, server } = AsFixture::start("").await;
    let a = jwt_client(&server, &pki, "a", "read").await;
    let (upstream, seen) = start_recording_upstream().await;
    // Routes: /admin needs scope admin, /api scope read; a holds read only.
    let gw = common::start_gateway(&pki, dir.path(), &server.issuer, &upstream, "").await;
    let base = format!("https://localhost:{}", gw.addr.port());
    let t = token(&pki, &server, &a, "a").await;
    let seen_paths = || seen.lock().map(|l| l.clone()).unwrap_or_default();

    // The Spring/Tomcat example: /api/..;/admin is /admin to the upstream.
    for (path, why) in [
        (
            "/api/..;/admin/users",
            "dot segments with path parameters (..;) in the path are refused",
        ),
        (
            "/api/%2e%2e;/admin/users",
            "dot segments with path parameters (..;) in the path are refused",
        ),
        (
            "/api/%252e%252e/admin/users",
            "a double-encoded escape (%25 followed by hex) in the path is refused",
        ),
        (
            "/api/%c0%ae%c0%ae/admin/users",
            "the path is not UTF-8 after percent-decoding",
        ),
        (
            "/api/%ef%bc%8e%ef%bc%8e/admin/users",
            "characters that read as a dot or slash (full-width dot, one dot leader…) in the path are refused",
        ),
        (
            "/api/x%00.json",
            "control characters (%00-%1F, %7F) in the path are refused",
        ),
        // Express and IIS match routes case-insensitively.
        (
            "/ADMIN/users",
            "the path takes another route when its letters are read case-insensitively or normalised (NFKC)",
        ),
    ] {
        // The check endpoint (Envoy style: the path after /certbound/check)
        // refuses the same path, with 403 as nginx expects.
        for (prefix, want, error) in [
            ("", 400, "invalid_request"),
            ("/certbound/check", 403, "access_denied"),
        ] {
            let (status, body) = as_is(&pki, &a, &t, &format!("{base}{prefix}{path}")).await;
            let expected = json!({"error": error, "error_description": why});
            assert_eq!((status, &body), (want, &expected), "{prefix}{path}");
        }
    }
    assert_eq!(
        seen_paths(),
        Vec::<String>::new(),
        "the upstream saw nothing"
    );

    // Path parameters on a segment do not move a request out of its route:
    // /admin;x is judged as /admin (scope admin), as Tomcat reads it.
    let (status, body) = as_is(&pki, &a, &t, &format!("{base}/admin;x=1/users")).await;
    assert_error(status, &body, (403, "insufficient_scope"));
    assert_eq!(seen_paths(), Vec::<String>::new());

    // An ordinary request still reaches it, parameters and all.
    let (status, body) = curl(
        &pki,
        Some(&a),
        &[
            "-H",
            &bearer(&t),
            &format!("{base}/api/orders;jsessionid=1"),
        ],
    )
    .await;
    assert_eq!((status, body.as_str()), (200, Some("seen")));
    assert_eq!(seen_paths(), ["/api/orders;jsessionid=1"]);
    gw.stop().await;
    server.stop().await;
}

/// The gateway's own answers (no token, ambiguous path, no route, refused
/// method) are JSON a browser never renders, and no origin may read them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_answers_are_inert_json() {
    let AsFixture { pki, dir, server } = AsFixture::start("").await;
    let upstream = start_upstream().await;
    let gw = common::start_gateway(&pki, dir.path(), &server.issuer, &upstream, "").await;
    let base = format!("https://localhost:{}", gw.addr.port());
    let a = pki.simple_client("a");
    let evil = "Origin: https://evil.example";
    let cases: [(Vec<String>, &str); 4] = [
        (vec![format!("{base}/api/%3Cscript%3E")], "401"),
        (vec![format!("{base}/api/%252e%252e/%3Cscript%3E")], "400"),
        (vec![format!("{base}/%3Cscript%3E")], "404"),
        (
            vec!["-X".into(), "TRACE".into(), format!("{base}/api/x")],
            "405",
        ),
    ];
    for (args, status) in cases {
        let mut all: Vec<&str> = vec!["-H", evil];
        all.extend(args.iter().map(String::as_str));
        let answer = curl_raw(&pki, Some(&a), &all).await;
        let lower = answer.to_ascii_lowercase();
        assert_eq!(lower.split(' ').nth(1), Some(status), "{answer}");
        assert!(
            lower.contains("\r\ncontent-type: application/json\r\n"),
            "{answer}"
        );
        assert!(
            lower.contains("\r\nx-content-type-options: nosniff\r\n"),
            "{answer}"
        );
        assert!(!lower.contains("access-control-allow"), "{answer}");
    }
}

/// Neither an absolute-form request target nor a Host header naming another
/// host changes where the gateway connects: only configured upstreams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_never_chooses_where_the_gateway_connects() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // Stands for an internal service a caller would like to reach.
    let internal = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind internal");
    let internal_addr = internal.local_addr().expect("addr");
    let reached = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&reached);
    tokio::spawn(async move {
        while internal.accept().await.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let AsFixture { pki, dir, server } = AsFixture::start("").await;
    let upstream = start_upstream().await;
    let gw = common::start_gateway(&pki, dir.path(), &server.issuer, &upstream, "").await;
    let base = format!("https://localhost:{}", gw.addr.port());
    register_with(&server, "a", None, |_| {}).await;
    let a = pki.simple_client("a");
    let t = token(&pki, &server, &a, "a").await;
    let auth = bearer(&t);
    let target = format!("http://{internal_addr}/api/x?via=target");
    let host = format!("Host: {internal_addr}");
    let api = format!("{base}/api/x?via=host");
    for (args, via) in [
        (
            vec!["--http1.1", "-H", &auth, "--request-target", &target, &base],
            "/api/x?via=target",
        ),
        (vec!["-H", &auth, "-H", &host, &api], "/api/x?via=host"),
    ] {
        let (status, body) = curl(&pki, Some(&a), &args).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["uri"], via, "the configured upstream answered: {body}");
    }
    // A URL smuggled into the path is just a path, and an ambiguous one.
    let smuggled = format!("{base}/api/http://{internal_addr}/x");
    let (status, body) = curl(&pki, Some(&a), &["-H", &auth, &smuggled]).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "the internal service was reached"
    );
}
