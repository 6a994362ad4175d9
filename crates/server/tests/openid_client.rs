//! A client nobody here wrote: openid-client (npm, panva) runs the
//! authorization code flow with PKCE as a public client that uses the mTLS
//! endpoint aliases, while Debian's Chromium signs in and consents. It gets
//! a certificate-bound access token and a bound refresh token, refreshes
//! with the same certificate, and is refused with another one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod front;

use certbound_testkit::jwt_claims;
use front::{Front, loopback_client, repo_root};
use serde_json::Value;

fn node_dir() -> std::path::PathBuf {
    repo_root().join("interop/node")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_gets_and_refreshes_bound_tokens_and_a_thief_cannot() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    certbound_testkit::require_tool(&chromium);
    assert!(
        node_dir().join("node_modules/openid-client").exists(),
        "openid-client is not installed: run scripts/test.sh (or npm ci in interop/node)"
    );
    let f = Front::start("").await;
    f.add_user("alice", "Alice Liddell", "correct horse battery")
        .await;
    let alice = f.store().user_by_username("alice").await.unwrap().unwrap();
    let redirect_uri = loopback_client().await;
    f.public_client("phone-app", Some("Phone App"), &[&redirect_uri])
        .await;
    let phone = f.pki.simple_client("phone");
    let thief = f.pki.simple_client("thief");

    let out = tokio::process::Command::new(certbound_testkit::require_tool("node"))
        .arg("openid_client.mjs")
        .current_dir(node_dir())
        .env("ISSUER", &f.base)
        .env("CLIENT_ID", "phone-app")
        .env("REDIRECT_URI", &redirect_uri)
        .env("CA", f.pki.ca_path())
        .env("PHONE_CERT", &phone.cert_path)
        .env("PHONE_KEY", &phone.key_path)
        .env("THIEF_CERT", &thief.cert_path)
        .env("THIEF_KEY", &thief.key_path)
        .env("USERNAME", "alice")
        .env("PASSWORD", "correct horse battery")
        .env("CHROMIUM", &chromium)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(120), out)
        .await
        .expect("openid-client finished in time")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let r: Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "no report: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert!(r.get("error").is_none(), "{r:#}");

    // openid-client took the token endpoint from mtls_endpoint_aliases.
    assert_eq!(r["tokenEndpointUsed"], format!("{}/token", f.mtls), "{r:#}");
    // The code was redeemed over mTLS: the access token is bound to the
    // phone's certificate, its subject is the user, and a refresh token came.
    let phone_x5t = phone.thumbprint().to_string();
    for key in ["code", "refreshed", "again"] {
        let claims = jwt_claims(r[key]["access_token"].as_str().unwrap());
        assert_eq!(
            claims["cnf"]["x5t#S256"],
            phone_x5t.as_str(),
            "{key}: {claims}"
        );
        assert_eq!(claims["sub"], alice.user_id.as_str(), "{key}");
        assert_eq!(claims["client_id"], "phone-app", "{key}");
    }
    assert_eq!(r["code"]["scope"], "read offline_access");
    let first = r["code"]["refresh_token"].as_str().unwrap();
    let second = r["refreshed"]["refresh_token"].as_str().unwrap();
    let third = r["again"]["refresh_token"].as_str().unwrap();
    assert!(
        first != second && second != third,
        "rotated on every refresh: {r:#}"
    );
    // Another certificate cannot use the phone's refresh token.
    assert_eq!(r["thief"]["error"], "invalid_grant", "{r:#}");
    assert_eq!(r["thief"]["status"], 400, "{r:#}");
}
