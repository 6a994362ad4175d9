//! A real browser (Debian's Chromium, headless, through playwright-core)
//! signs in on the built-in pages, consents, and lands on the client's
//! loopback redirect URI; a client name holding markup is shown as text.
//! The first test saves the screenshots docs/login.md shows.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod front;

use std::ffi::OsStr;
use std::path::Path;

use front::{
    Front, authorize_query, good_params, loopback_client, param, pkce, repo_root, run_node_script,
};
use serde_json::Value;

/// Runs interop/node/login.mjs and returns what it reported.
async fn drive_browser(auth_url: &str, redirect_uri: &str, screenshots: Option<&Path>) -> Value {
    let mut env = vec![
        ("AUTH_URL", OsStr::new(auth_url)),
        ("USERNAME", OsStr::new("alice")),
        ("PASSWORD", OsStr::new("correct horse battery")),
        ("REDIRECT_PREFIX", OsStr::new(redirect_uri)),
    ];
    if let Some(dir) = screenshots {
        env.push(("SCREENSHOTS", dir.as_os_str()));
    }
    run_node_script("login.mjs", "playwright-core", &env).await
}

async fn start(client_name: &str) -> (Front, String, String, String) {
    let f = Front::start("").await;
    f.add_user("alice", "Alice Liddell", "correct horse battery")
        .await;
    let redirect_uri = loopback_client().await;
    f.public_client("photos", Some(client_name), &[&redirect_uri])
        .await;
    let (_, challenge) = pkce();
    let mut params = good_params("photos", &redirect_uri, &challenge);
    params[3] = ("scope", "read write");
    let url = f.url(&authorize_query(&params));
    (f, redirect_uri, url, challenge)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_signs_in_consents_and_reaches_the_client() {
    let (f, redirect_uri, url, _) = start("Photo Printing Co.").await;
    let shots = repo_root().join("docs/img");
    std::fs::create_dir_all(&shots).unwrap();
    let r = drive_browser(&url, &redirect_uri, Some(&shots)).await;

    assert_eq!(r["loginTitle"], "Sign in");
    assert_eq!(r["loginHeading"], "Sign in");
    assert_eq!(r["loginClientText"], "Photo Printing Co.");
    assert_eq!(
        r["loginLabels"],
        serde_json::json!(["Username", "Password"])
    );
    assert_eq!(r["loginCsrfFields"], 1);
    assert_eq!(
        r["consentHeading"],
        "Photo Printing Co. wants access to your account"
    );
    assert_eq!(r["scopes"], serde_json::json!(["read", "write"]));
    assert_eq!(r["rememberLabel"], "Remember this decision");
    assert_eq!(r["buttons"], serde_json::json!(["Deny", "Allow"]));
    assert_eq!(r["dialogs"], serde_json::json!([]));
    assert!(r.get("console").is_none(), "CSP or script errors: {r:#}");

    let landed = r["finalUrl"].as_str().unwrap();
    assert!(
        landed.starts_with(&format!("{redirect_uri}?code=")),
        "{landed}"
    );
    assert_eq!(param(landed, "state").as_deref(), Some("st-123"));
    assert_eq!(param(landed, "iss").as_deref(), Some(f.base.as_str()));
    let code = param(landed, "code").unwrap();
    let stored = f
        .store()
        .code(&certbound_server::tokens::token_hash(&code))
        .await
        .unwrap()
        .expect("the code is stored");
    assert_eq!(stored.scope, "read write");
    for shot in ["login.png", "consent.png"] {
        let bytes = std::fs::read(shots.join(shot)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{shot}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_a_client_name_is_shown_as_text() {
    let evil = "<img src=x onerror=alert(1)><b>Evil</b>";
    let (_f, redirect_uri, url, _) = start(evil).await;
    let r = drive_browser(&url, &redirect_uri, None).await;
    // The literal text is visible, and no element was made from it.
    assert_eq!(r["loginClientText"], evil);
    assert_eq!(r["consentClientText"], evil);
    assert_eq!(r["consentClientElements"], 0);
    assert_eq!(r["images"], 0, "no logo_uri, so no image at all");
    assert_eq!(r["bolds"], 0);
    assert_eq!(r["dialogs"], serde_json::json!([]));
    assert!(r["finalUrl"].as_str().unwrap().starts_with(&redirect_uri));
}
