//! A delegated login app drives the interaction through the admin API on
//! the mTLS listener: reading it, signing the person in, consent, refusals
//! (no admin scope, public clients, unknown users, another browser) and a
//! rejection reaching the client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod front;

use front::{Front, authorize_query, get_json, good_params, location, param, pkce};
use serde_json::{Value, json};

const CB: &str = "https://app.example/cb";

/// POSTs `body` as JSON to `url` with `client`.
async fn post_json(client: &reqwest::Client, url: String, body: &Value) -> reqwest::Response {
    client.post(url).json(body).send().await.unwrap()
}

/// Where an admin step that succeeded (200) sends the browser next.
async fn redirect_of(res: reqwest::Response) -> String {
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["redirect_to"].as_str().unwrap().to_owned()
}

/// Asserts a 401 `invalid_client` answer; returns its body.
async fn invalid_client(res: reqwest::Response) -> Value {
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client", "{body}");
    body
}

/// Asserts that `back` (where the browser is sent) carries the error the
/// login app decided.
fn assert_rejected(back: &str) {
    assert_eq!(param(back, "error").as_deref(), Some("access_denied"));
    assert_eq!(
        param(back, "error_description").as_deref(),
        Some("The user cancelled")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegated_login_app_drives_the_interaction() {
    let _ = common::audit_log();
    let f = Front::start("[login]\nurl = \"https://login.example/app\"").await;
    f.add_user("erin", "Erin", "unused-here").await;
    f.public_client("app", Some("Example App"), &[CB]).await;
    let mut m = certbound_testkit::server::tls_client("login-app");
    m.scope = "certbound:admin".into();
    f.register("login-app", m).await;
    certbound_testkit::server::register_tls_client(
        &f.server,
        "not-admin",
        "read",
        certbound_server::clients::TokenFormat::Jwt,
    )
    .await;
    let app = f.http(Some(&f.pki.simple_client("login-app")));
    let outsider = f.http(Some(&f.pki.simple_client("not-admin")));
    let browser = f.browser();
    let (_, challenge) = pkce();
    let params = good_params("app", CB, &challenge);

    // The browser goes to the app with the challenge.
    let res = browser
        .get(f.url(&authorize_query(&params)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let to_app = location(&res);
    assert!(
        to_app.starts_with("https://login.example/app?challenge="),
        "{to_app}"
    );
    let handle = param(&to_app, "challenge").unwrap();
    // The built-in pages are off.
    let res = browser
        .get(f.url(&format!("/authorize/login?challenge={handle}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    let admin = |path: &str| {
        format!(
            "{}/admin/interactions/{handle}{path}?client_id=login-app",
            f.mtls
        )
    };
    let info = get_json(&app, admin("")).await;
    assert_eq!(info["client"]["client_id"], "app");
    assert_eq!(info["client"]["client_name"], "Example App");
    assert_eq!(info["requested_scopes"], json!(["read"]));
    assert_eq!(info["user"], Value::Null);

    // A client without the admin scope is refused.
    let res = outsider
        .get(format!(
            "{}/admin/interactions/{handle}?client_id=not-admin",
            f.mtls
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_scope");

    // A public client holding the admin scope proves nothing but its id:
    // refused before the scope is even looked at, with or without a certificate.
    let mut public_admin =
        certbound_server::clients::ClientMetadata::new(certbound_core::AuthMethod::None);
    public_admin.grant_types = vec!["authorization_code".into()];
    public_admin.redirect_uris = vec![CB.into()];
    public_admin.scope = "certbound:admin".into();
    f.register("public-admin", public_admin).await;
    for who in [
        f.browser(),
        f.http(Some(&f.pki.simple_client("public-admin"))),
    ] {
        let url = format!(
            "{}/admin/interactions/{handle}/login?client_id=public-admin",
            f.mtls
        );
        let body = invalid_client(post_json(&who, url, &json!({"username": "erin"})).await).await;
        assert_eq!(
            body["error_description"],
            certbound_server::clients::auth::PUBLIC_CLIENT_REFUSED
        );
    }
    // A confidential client with the admin scope but only a secret: the
    // routes answer on every listener, so a secret alone is not enough.
    let mut secret_admin = certbound_server::clients::ClientMetadata::new(
        certbound_core::AuthMethod::ClientSecretBasic,
    );
    secret_admin.scope = "certbound:admin".into();
    certbound_testkit::server::register_client(
        &f.server,
        "secret-admin",
        secret_admin,
        Some("a-long-secret-for-the-admin"),
    )
    .await;
    let res = f
        .browser()
        .post(format!("{}/admin/interactions/{handle}/login", f.base))
        .basic_auth("secret-admin", Some("a-long-secret-for-the-admin"))
        .json(&json!({"username": "erin"}))
        .send()
        .await
        .unwrap();
    invalid_client(res).await;

    let info = get_json(&app, admin("")).await;
    assert_eq!(info["user"], Value::Null, "nobody was signed in");

    // Login: certbound records the user; the browser continues at certbound.
    let res = post_json(&app, admin("/login"), &json!({"username": "erin"})).await;
    let redirect_to = redirect_of(res).await;
    assert_eq!(
        redirect_to,
        format!("{}/authorize/continue?challenge={handle}", f.base)
    );
    let info = get_json(&app, admin("")).await;
    assert_eq!(info["user"]["username"], "erin");
    // An unknown user is refused.
    let res = post_json(&app, admin("/login"), &json!({"username": "nobody"})).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "unknown_user");

    // Consent is needed: continue sends the browser back to the app.
    let res = browser.get(&redirect_to).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), to_app);
    // Consent for a scope that was not requested is refused.
    let res = post_json(&app, admin("/consent"), &json!({"scopes": ["write"]})).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_scope");
    let res = post_json(
        &app,
        admin("/consent"),
        &json!({"scopes": ["read"], "remember": false}),
    )
    .await;
    let redirect_to = redirect_of(res).await;

    // Another browser cannot pick the code up.
    let res = f.browser().get(&redirect_to).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("another browser"));
    // The one that started it gets the redirect to the client.
    let res = browser.get(&redirect_to).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert!(back.starts_with(&format!("{CB}?code=")), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("st-123"));
    assert_eq!(param(&back, "iss").as_deref(), Some(f.base.as_str()));
    // The interaction is over.
    let res = app.get(admin("")).send().await.unwrap();
    assert_eq!(res.status(), 409);
    // It issued a code, so it has no error to send, whatever the URL asks.
    let forged = format!(
        "{}/authorize/continue?challenge={handle}&error=access_denied",
        f.base
    );
    let res = browser.get(&forged).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("has not been rejected"));

    // A rejection reaches the client through the browser.
    let res = browser
        .get(f.url(&authorize_query(&params)))
        .send()
        .await
        .unwrap();
    let handle = param(&location(&res), "challenge").unwrap();
    let res = app
        .post(format!(
            "{}/admin/interactions/{handle}/reject?client_id=login-app",
            f.mtls
        ))
        .json(&json!({"error": "access_denied", "error_description": "The user cancelled"}))
        .send()
        .await
        .unwrap();
    let redirect_to = redirect_of(res).await;
    let res = browser.get(&redirect_to).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert_rejected(&back);
    assert_eq!(param(&back, "state").as_deref(), Some("st-123"));
    assert!(param(&back, "code").is_none());
    // The browser gets the error the app decided, not one the URL names.
    let forged = format!(
        "{}/authorize/continue?challenge={handle}&error=login_required&error_description=forged",
        f.base
    );
    let res = browser.get(&forged).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert_rejected(&back);
    assert!(
        common::audit_log()
            .lines()
            .any(|l| l.contains("interaction_admin_step") && l.contains("reject"))
    );
}
