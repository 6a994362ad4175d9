//! A client nobody here wrote: openid-client (npm, panva) runs the
//! authorization code flow with PKCE as a public client that uses the mTLS
//! endpoint aliases, while Debian's Chromium signs in and consents. It gets
//! a certificate-bound access token and a bound refresh token, refreshes
//! with the same certificate, and is refused with another one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod front;

use certbound_testkit::jwt_claims;
use front::{Front, loopback_client, run_node_script};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_gets_and_refreshes_bound_tokens_and_a_thief_cannot() {
    let f = Front::start("").await;
    f.add_user("alice", "Alice Liddell", "correct horse battery")
        .await;
    let alice = f.store().user_by_username("alice").await.unwrap().unwrap();
    let redirect_uri = loopback_client().await;
    f.public_client("phone-app", Some("Phone App"), &[&redirect_uri])
        .await;
    let phone = f.pki.simple_client("phone");
    let thief = f.pki.simple_client("thief");

    let ca = f.pki.ca_path();
    let r = run_node_script(
        "openid_client.mjs",
        "openid-client",
        &[
            ("ISSUER", f.base.as_ref()),
            ("CLIENT_ID", "phone-app".as_ref()),
            ("REDIRECT_URI", redirect_uri.as_ref()),
            ("CA", ca.as_ref()),
            ("PHONE_CERT", phone.cert_path.as_ref()),
            ("PHONE_KEY", phone.key_path.as_ref()),
            ("THIEF_CERT", thief.cert_path.as_ref()),
            ("THIEF_KEY", thief.key_path.as_ref()),
            ("USERNAME", "alice".as_ref()),
            ("PASSWORD", "correct horse battery".as_ref()),
        ],
    )
    .await;

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
