//! A real nginx terminates mTLS and asks the gateway's check endpoint via
//! `auth_request`, passing `$ssl_client_escaped_cert`: allow, replay with
//! another certificate → 401, insufficient scope → 403.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use certbound_gateway::RunningGateway;
use certbound_server::clients::TokenFormat;
use certbound_testkit::gateway::{routes, start_gateway_from};
use certbound_testkit::server::AsFixture;
use certbound_testkit::{TestPki, require_tool};
use common::{curl, register, start_upstream, token};
use serde_json::json;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Starts a gateway in proxy mode for the AS `(pki, dir, issuer)`, behind
/// the proxy at `(address, certificate_header)`: /admin (scope admin) and
/// /api (scope read) go to `upstream`; `policy` adds `[policy]` keys.
async fn proxy_gateway(
    (pki, dir, issuer): (&TestPki, &Path, &str),
    (address, certificate_header): (&str, &str),
    policy: &str,
    upstream: &str,
) -> RunningGateway {
    let toml = format!(
        "[listener]\nmode = \"proxy\"\naddr = \"127.0.0.1:0\"\ntrusted_proxies = [\"{address}\"]\n\
         certificate_header = \"{certificate_header}\"\n\
         [authorization_server]\nissuer = \"{issuer}\"\nca = \"{ca}\"\n\
         [policy]\naudience = \"{issuer}\"\n{policy}{routes}",
        ca = pki.ca_path().display(),
        routes = routes(upstream),
    );
    start_gateway_from(&toml, dir).await
}

/// nginx runs without a master process (`master_process off`), so killing
/// the child stops all of it; a killed master would leave its worker behind.
struct Nginx(std::process::Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_auth_request_allows_bound_tokens_and_refuses_replays() {
    let nginx = require_tool("nginx");
    let AsFixture { pki, dir, server } = AsFixture::start("").await;
    register(&server, "a", "read", TokenFormat::Jwt).await;
    register(&server, "b", "read", TokenFormat::Jwt).await;
    let (a, b) = (pki.simple_client("a"), pki.simple_client("b"));
    let upstream = start_upstream().await;

    // The gateway behind nginx: plain HTTP, trusting nginx's address.
    let gw = proxy_gateway(
        (&pki, dir.path(), &server.issuer),
        ("127.0.0.1", "nginx"),
        "leeway_seconds = 0\n",
        &upstream,
    )
    .await;

    let port = free_port();
    let d = dir.path().display();
    let conf = format!(
        r#"daemon off;
master_process off;
worker_processes 1;
user root;
error_log {d}/nginx-error.log info;
pid {d}/nginx.pid;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_verify_client optional_no_ca;
    location / {{
      auth_request /_certbound_check;
      auth_request_set $cb_client $upstream_http_x_certbound_client_id;
      auth_request_set $cb_subject $upstream_http_x_certbound_subject;
      auth_request_set $cb_scope $upstream_http_x_certbound_scope;
      auth_request_set $cb_thumb $upstream_http_x_certbound_cert_thumbprint;
      proxy_set_header X-Certbound-Client-Id $cb_client;
      proxy_set_header X-Certbound-Subject $cb_subject;
      proxy_set_header X-Certbound-Scope $cb_scope;
      proxy_set_header X-Certbound-Cert-Thumbprint $cb_thumb;
      proxy_pass {upstream};
    }}
    location = /_certbound_check {{
      internal;
      proxy_pass http://127.0.0.1:{gw_port}/certbound/check;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
    }}
  }}
}}
"#,
        cert = pki.dir().join("server.pem").display(),
        key = pki.dir().join("server.key").display(),
        gw_port = gw.addr.port(),
    );
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).expect("write nginx.conf");
    let child = std::process::Command::new(nginx)
        .arg("-c")
        .arg(&conf_path)
        .arg("-p")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nginx");
    let _nginx = Nginx(child);
    let base = format!("https://localhost:{port}");
    // Wait until nginx listens.
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let ta = token(&pki, &server, &a, "a").await;
    let auth = format!("Authorization: Bearer {ta}");
    let (status, seen) = curl(
        &pki,
        Some(&a),
        &["-H", &auth, &format!("{base}/api/orders")],
    )
    .await;
    let log = std::fs::read_to_string(dir.path().join("nginx-error.log")).unwrap_or_default();
    assert_eq!(status, 200, "{seen}\nnginx log:\n{log}");
    assert_eq!(seen["headers"]["x-certbound-client-id"], json!(["a"]));
    assert_eq!(
        seen["headers"]["x-certbound-cert-thumbprint"],
        json!([a.thumbprint().to_string()])
    );

    for (who, path, want, what) in [
        (
            Some(&b),
            "/api/orders",
            401,
            "replay with client B's certificate",
        ),
        (None, "/api/orders", 401, "replay without a certificate"),
        (Some(&a), "/admin/x", 403, "insufficient scope"),
    ] {
        let (status, _) = curl(&pki, who, &["-H", &auth, &format!("{base}{path}")]).await;
        assert_eq!(status, want, "{what}");
    }
    gw.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envoy_ext_authz_http_mode_reads_xfcc_from_the_trusted_peer() {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let AsFixture { pki, dir, server } = AsFixture::start("").await;
    register(&server, "a", "read", TokenFormat::Jwt).await;
    let (a, b) = (pki.simple_client("a"), pki.simple_client("b"));
    // Nothing listens upstream: the check endpoint never forwards.
    let gw = proxy_gateway(
        (&pki, dir.path(), &server.issuer),
        ("127.0.0.2", "envoy"),
        "",
        "http://127.0.0.1:9",
    )
    .await;
    let ta = token(&pki, &server, &a, "a").await;
    let auth = format!("Authorization: Bearer {ta}");
    let xfcc = |id: &certbound_testkit::TestIdentity| {
        format!(
            "X-Forwarded-Client-Cert: Hash={};Cert=\"{}\"",
            id.thumbprint().to_hex(),
            utf8_percent_encode(&id.issued.cert_pem, NON_ALPHANUMERIC)
        )
    };
    // Envoy's ext_authz appends the original path to the check path.
    let check = |path: &str| format!("http://127.0.0.1:{}/certbound/check{path}", gw.addr.port());
    for (case, from_envoy, id, path, want) in [
        ("a's token and certificate", true, &a, "/api/orders", 200),
        ("replay with b's certificate", true, &b, "/api/orders", 401),
        ("insufficient scope", true, &a, "/admin/x", 403),
        // The same XFCC from an untrusted peer is ignored: the bound token
        // has no certificate.
        ("XFCC from an untrusted peer", false, &a, "/api/orders", 401),
    ] {
        let (forwarded, url) = (xfcc(id), check(path));
        let mut args = vec!["-H", auth.as_str(), "-H", &forwarded, &url];
        if from_envoy {
            args.splice(0..0, ["--interface", "127.0.0.2"]);
        }
        let (status, _) = curl(&pki, None, &args).await;
        assert_eq!(status, want, "{case}");
    }
    gw.stop().await;
    server.stop().await;
}
