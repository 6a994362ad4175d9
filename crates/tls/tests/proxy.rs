//! Behind a TLS-terminating proxy: certificate headers are honoured from
//! trusted peers only, stripped from everyone else, and garbage is a 400.
//!
//! The listener trusts 127.0.0.2; curl `--interface 127.0.0.2` plays the
//! proxy and plain 127.0.0.1 plays an attacker who reached the port directly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use certbound_testkit::{TestIdentity, TestPki};
use certbound_tls::CertificateHeader;
use common::{curl, json, start_proxy};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

const PROXY_IP: &str = "127.0.0.2";

fn rfc9440(id: &TestIdentity) -> String {
    format!(
        "Client-Cert: :{}:",
        base64::engine::general_purpose::STANDARD.encode(&id.issued.cert_der)
    )
}

fn nginx(id: &TestIdentity) -> String {
    format!(
        "X-SSL-Client-Cert: {}",
        utf8_percent_encode(&id.issued.cert_pem, NON_ALPHANUMERIC)
    )
}

fn envoy(id: &TestIdentity) -> String {
    // A client-supplied element first, then the one our proxy appended: the last counts.
    format!(
        "X-Forwarded-Client-Cert: By=spiffe://evil;Cert=\"garbage\",By=spiffe://proxy;Hash={};Cert=\"{}\";Subject=\"CN=alice,O=x;y\";URI=",
        id.thumbprint().to_hex(),
        utf8_percent_encode(&id.issued.cert_pem, NON_ALPHANUMERIC)
    )
}

async fn get(addr: std::net::SocketAddr, from_proxy: bool, headers: &[String]) -> (String, Value) {
    let url = format!("http://{addr}/whoami");
    let mut args: Vec<&str> = vec!["-w", "\n%{http_code}"];
    if from_proxy {
        args.extend(["--interface", PROXY_IP]);
    }
    for h in headers {
        args.extend(["-H", h.as_str()]);
    }
    args.push(&url);
    let (code, out) = curl(&args).await;
    assert_eq!(code, 0, "{out}");
    let (body, status) = out.rsplit_once('\n').unwrap_or((&out, ""));
    (status.to_owned(), json(body))
}

/// [`get`], which must answer 200 with no certificate believed; returns
/// what the server saw.
async fn no_certificate(addr: std::net::SocketAddr, from_proxy: bool, headers: &[String]) -> Value {
    let (status, v) = get(addr, from_proxy, headers).await;
    assert_eq!(status, "200", "{headers:?}");
    assert_eq!(v["certificate"], Value::Null, "{headers:?}");
    v
}

#[tokio::test]
async fn trusted_proxy_headers_are_honoured_in_the_configured_format_only() {
    let pki = TestPki::new();
    let alice = pki.simple_client("alice");
    let formats = [
        (CertificateHeader::Rfc9440, rfc9440(&alice), "Rfc9440"),
        (CertificateHeader::Nginx, nginx(&alice), "NginxEscapedPem"),
        (CertificateHeader::Envoy, envoy(&alice), "EnvoyXfcc"),
    ];
    for (format, header, source) in &formats {
        let server = start_proxy(&pki, &[PROXY_IP], *format).await;
        let (status, v) = get(server.addr, true, std::slice::from_ref(header)).await;
        assert_eq!(status, "200", "{header}: {v}");
        assert_eq!(v["trusted_proxy"], true);
        assert_eq!(
            v["certificate"]["x5t#S256"],
            Value::from(alice.thumbprint().to_string()),
            "{header}"
        );
        assert_eq!(v["certificate"]["source"], *source);
        assert_eq!(v["certificate"]["chain_validated"], true, "{header}");
        assert_eq!(v["certificate"]["subject_dn"], "CN=alice");
        // The handler sees the parsed certificate, not the raw header.
        assert_eq!(v["certificate_headers_seen"], serde_json::json!([]));

        // A client can smuggle another format through a proxy that only
        // overwrites its own header: those are stripped, never believed.
        for (other_format, other, _) in &formats {
            if other_format == format {
                continue;
            }
            let (status, v) = get(server.addr, true, std::slice::from_ref(other)).await;
            assert_eq!(status, "200", "{format:?} listener, {other}");
            assert_eq!(
                v["certificate"],
                Value::Null,
                "{format:?} listener believed {other}"
            );
            assert_eq!(v["certificate_headers_seen"], serde_json::json!([]));
        }
        // A trusted proxy that forwards no certificate: none.
        no_certificate(server.addr, true, &[]).await;
    }
    // nginx drops the header (or sends it empty) when its client had no certificate.
    let server = start_proxy(&pki, &[PROXY_IP], CertificateHeader::Nginx).await;
    no_certificate(server.addr, true, &["X-SSL-Client-Cert;".to_owned()]).await;
}

#[tokio::test]
async fn the_same_headers_from_an_untrusted_peer_are_stripped() {
    let pki = TestPki::new();
    let alice = pki.simple_client("alice");
    let server = start_proxy(&pki, &[PROXY_IP], CertificateHeader::Rfc9440).await;
    for header in [
        rfc9440(&alice),
        nginx(&alice),
        envoy(&alice),
        "Client-Cert-Chain: :AQID:".to_owned(),
    ] {
        let v = no_certificate(server.addr, false, std::slice::from_ref(&header)).await;
        assert_eq!(v["trusted_proxy"], false);
        assert_eq!(
            v["certificate_headers_seen"],
            serde_json::json!([]),
            "{header}"
        );
    }
    // Garbage from an untrusted peer is not even parsed: stripped, not 400.
    no_certificate(server.addr, false, &["Client-Cert: garbage".to_owned()]).await;
}

#[tokio::test]
async fn garbage_from_a_trusted_proxy_is_a_400_naming_the_header() {
    let pki = TestPki::new();
    let alice = pki.simple_client("alice");
    let wrong_hash = envoy(&alice).replace(&alice.thumbprint().to_hex(), &"0".repeat(64));
    let cases: Vec<(String, &str)> = vec![
        (
            "Client-Cert: :AQID".into(),
            "malformed Client-Cert header: not a Structured Field Item",
        ),
        (
            "Client-Cert: a-token".into(),
            "malformed Client-Cert header: expected a Byte Sequence",
        ),
        (
            "Client-Cert: :AQID:".into(),
            "malformed Client-Cert header: the certificate cannot be parsed",
        ),
        (
            "Client-Cert: \"a string\"".into(),
            "malformed Client-Cert header: expected a Byte Sequence",
        ),
        (
            "Client-Cert-Chain: :AQID:".into(),
            "malformed Client-Cert-Chain header: sent without Client-Cert",
        ),
        (
            "X-SSL-Client-Cert: hello%20world".into(),
            "malformed X-SSL-Client-Cert header: no PEM CERTIFICATE block",
        ),
        (
            "X-SSL-Client-Cert: -----BEGIN%20CERTIFICATE-----%0AAQID%0A-----END%20CERTIFICATE-----"
                .into(),
            "malformed X-SSL-Client-Cert header: the certificate cannot be parsed",
        ),
        (
            "X-Forwarded-Client-Cert: Cert=\"unterminated".into(),
            "malformed X-Forwarded-Client-Cert header: unterminated double quote",
        ),
        (
            "X-Forwarded-Client-Cert: By=spiffe://x;URI=y".into(),
            "malformed X-Forwarded-Client-Cert header: the last element has no Cert=",
        ),
        (
            wrong_hash,
            "malformed X-Forwarded-Client-Cert header: Hash= does not match",
        ),
    ];
    let rfc = start_proxy(&pki, &[PROXY_IP], CertificateHeader::Rfc9440).await;
    let ngx = start_proxy(&pki, &[PROXY_IP], CertificateHeader::Nginx).await;
    let env = start_proxy(&pki, &[PROXY_IP], CertificateHeader::Envoy).await;
    let listener_for = |header: &str| {
        if header.starts_with("X-SSL") {
            ngx.addr
        } else if header.starts_with("X-Forwarded") {
            env.addr
        } else {
            rfc.addr
        }
    };
    for (header, want) in &cases {
        let (status, v) = get(listener_for(header), true, std::slice::from_ref(header)).await;
        assert_eq!(status, "400", "{header}: {v}");
        assert_eq!(v["error"], "invalid_request", "{header}");
        let description = v["error_description"].as_str().unwrap_or_default();
        assert!(description.starts_with(want), "{header}: {description}");
    }
    // The configured format wins; another one alongside is stripped, not an error.
    let (status, v) = get(rfc.addr, true, &[rfc9440(&alice), nginx(&alice)]).await;
    assert_eq!(status, "200", "{v}");
    assert_eq!(v["certificate"]["source"], "Rfc9440");
    // A repeated single-valued header too.
    let (status, _) = get(rfc.addr, true, &[rfc9440(&alice), rfc9440(&alice)]).await;
    assert_eq!(status, "400");
}
