//! The authorization code flow's front channel over real HTTPS on SQLite:
//! `/authorize` → login → consent → the client's redirect with `code`,
//! `state` and `iss`; form_post; remembered consent; the delegated login
//! app through the admin API; failed-login backoff on a ManualClock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod front;

use std::time::Duration;

use certbound_core::Clock;
use certbound_server::tokens::token_hash;
use front::{
    Db, Front, authorize_query, get_json, good_params, header, hidden, location, on_both_backends,
    open_login, param, pkce, post_form, submit_consent, submit_login,
};
use serde_json::{Value, json};

const CB: &str = "https://app.example/cb";

/// The headers every page must carry.
fn assert_page_headers(res: &reqwest::Response, form_origin: &str) {
    let csp = header(res, "content-security-policy");
    assert!(
        csp.starts_with(
            "default-src 'none'; style-src 'self'; img-src 'self' https:; form-action 'self'"
        ),
        "{csp}"
    );
    assert!(csp.contains(form_origin), "{csp}");
    assert!(
        csp.contains("frame-ancestors 'none'; base-uri 'none'"),
        "{csp}"
    );
    assert_eq!(header(res, "x-frame-options"), "DENY");
    assert_eq!(header(res, "cache-control"), "no-store");
    assert_eq!(header(res, "referrer-policy"), "no-referrer");
    assert_eq!(header(res, "x-content-type-options"), "nosniff");
}

on_both_backends!(
    login_consent_and_the_code_reach_the_client,
    super::login_consent_and_code
);

async fn login_consent_and_code(db: Db) {
    let _ = common::audit_log();
    let f = Front::start_on(db, "").await;
    f.add_user("alice", "Alice Liddell", "correct horse").await;
    f.public_client(
        "app",
        Some("Example App"),
        &[CB, "https://app.example/other"],
    )
    .await;
    let browser = f.browser();
    let (_verifier, challenge) = pkce();

    // /authorize sets the browser cookie and sends the browser to login.
    let res = browser
        .get(f.url(&authorize_query(&good_params("app", CB, &challenge))))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = header(&res, "set-cookie");
    assert!(cookie.starts_with("__Host-certbound-browser="), "{cookie}");
    assert!(
        cookie.ends_with("; Secure; HttpOnly; SameSite=Lax; Path=/"),
        "{cookie}"
    );
    let to_login = location(&res);
    let page = browser.get(f.url(&to_login)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_page_headers(&page, "https://app.example");
    let html = page.text().await.unwrap();
    assert!(html.contains("Example App"), "{html}");
    assert!(html.contains(r#"<label for="username">Username</label>"#));
    let login = front::LoginForm {
        challenge: hidden(&html, "challenge"),
        csrf: hidden(&html, "csrf_token"),
        html,
    };
    assert_eq!(login.csrf.len(), 43);

    // A wrong password: one generic message, the real reason in the audit log.
    let res = submit_login(&f, &browser, &login, "alice", "wrong horse").await;
    assert_eq!(res.status(), 303);
    let again = location(&res);
    assert!(again.ends_with("&failed=1"), "{again}");
    let html = f.page(&browser, &again).await;
    assert!(html.contains("Incorrect username or password"), "{html}");
    for (user, pass) in [("nobody", "x")] {
        let res = submit_login(&f, &browser, &login, user, pass).await;
        assert!(location(&res).ends_with("&failed=1"));
    }
    let log = common::audit_log();
    assert!(
        log.lines().any(|l| l.contains("login_failed")
            && l.contains("username=\"alice\"")
            && l.contains("wrong password")),
        "{log}"
    );
    assert!(log.lines().any(|l| l.contains("login_failed")
        && l.contains("username=\"nobody\"")
        && l.contains("unknown user")));
    assert!(!log.contains("wrong horse"), "a password reached the log");

    // The right password leads to consent.
    let res = submit_login(&f, &browser, &login, "alice", "correct horse").await;
    assert_eq!(res.status(), 303);
    let to_consent = location(&res);
    assert!(
        to_consent.starts_with("/authorize/consent?challenge="),
        "{to_consent}"
    );
    let page = browser.get(f.url(&to_consent)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_page_headers(&page, "https://app.example");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Example App") && html.contains("<code>read</code>"),
        "{html}"
    );
    assert!(html.contains("Alice Liddell"));
    assert!(html.contains("Remember this decision"));
    let consent = [
        ("challenge", hidden(&html, "challenge")),
        ("csrf_token", hidden(&html, "csrf_token")),
        ("decision", "allow".to_owned()),
    ];
    let pairs: Vec<(&str, &str)> = consent.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let before = f.counts().await;
    let res = post_form(&browser, &f.url("/authorize/consent"), &pairs).await;
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert!(back.starts_with(&format!("{CB}?code=")), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("st-123"));
    assert_eq!(param(&back, "iss").as_deref(), Some(f.base.as_str()));
    let code = param(&back, "code").unwrap();
    assert_eq!(code.len(), 43);

    // The code is stored hashed, bound to the client, redirect URI and challenge.
    let stored = f.store().code(&token_hash(&code)).await.unwrap().unwrap();
    assert_eq!(stored.client_id, "app");
    assert_eq!(stored.redirect_uri, CB);
    assert_eq!(stored.code_challenge, challenge);
    assert_eq!(stored.scope, "read");
    assert_eq!(stored.expires_at - stored.created_at, 60);
    assert_eq!(stored.created_at, f.clock.unix_seconds());
    let user = f.store().user_by_username("alice").await.unwrap().unwrap();
    assert_eq!(stored.user_id, user.user_id);
    let after = f.counts().await;
    assert_eq!(after[1].1, before[1].1 + 1, "one code row");
    assert_eq!(after[2].1, before[2].1, "nothing remembered");
    assert!(
        common::audit_log()
            .lines()
            .any(|l| l.contains("code_issued") && l.contains("client_id=\"app\""))
    );
    assert!(
        !common::audit_log().contains(&code),
        "a code reached the log"
    );

    // The consent form replayed: an error page, no second code.
    let res = post_form(&browser, &f.url("/authorize/consent"), &pairs).await;
    assert_eq!(res.status(), 400);
    assert!(location(&res).is_empty());
    assert!(res.text().await.unwrap().contains("already been completed"));
    assert_eq!(f.counts().await, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_post_and_remembered_consent() {
    let f = Front::start("").await;
    f.add_user("bob", "Bob", "pw-bob-123").await;
    f.public_client("spa", None, &["http://127.0.0.1:9/cb"])
        .await;
    let browser = f.browser();
    let (_, challenge) = pkce();
    let mut params = good_params("spa", "http://127.0.0.1:9/cb", &challenge);
    params.push(("response_mode", "form_post"));
    params.push(("nonce", "n-1"));

    // First time: consent with "remember".
    let login = open_login(&f, &browser, &params).await;
    // Without client_name the client_id is shown.
    assert!(login.html.contains(">spa</strong>"), "{}", login.html);
    let res = submit_login(&f, &browser, &login, "bob", "pw-bob-123").await;
    let to_consent = location(&res);
    let html = f.page(&browser, &to_consent).await;
    let res = submit_consent(
        &f,
        &browser,
        &html,
        &[("remember", "yes"), ("decision", "allow")],
    )
    .await;
    assert_eq!(res.status(), 200);
    let csp = header(&res, "content-security-policy");
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:9;"),
        "{csp}"
    );
    assert!(
        csp.contains(&format!(
            "script-src {}",
            certbound_server::authorize::form_post_script_hash()
        )),
        "{csp}"
    );
    let page = res.text().await.unwrap();
    assert!(
        page.contains(r#"<form method="post" action="http://127.0.0.1:9/cb">"#),
        "{page}"
    );
    assert_eq!(hidden(&page, "state"), "st-123");
    assert_eq!(hidden(&page, "iss"), f.base);
    let code = hidden(&page, "code");
    // Works without JavaScript: a visible submit button.
    assert!(page.contains(r#"<button type="submit" class="primary">Continue</button>"#));
    let stored = f.store().code(&token_hash(&code)).await.unwrap().unwrap();
    assert_eq!(stored.nonce.as_deref(), Some("n-1"));
    let user = f.store().user_by_username("bob").await.unwrap().unwrap();
    assert_eq!(
        f.store()
            .consent(&user.user_id, "spa")
            .await
            .unwrap()
            .as_deref(),
        Some("read")
    );

    // Second time: login only; the remembered consent skips the page and
    // the response comes straight from the login POST.
    let login = open_login(&f, &browser, &params).await;
    let res = submit_login(&f, &browser, &login, "bob", "pw-bob-123").await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert_ne!(hidden(&page, "code"), code);

    // Asking for more than was remembered shows consent again.
    params[3] = ("scope", "read write");
    let login = open_login(&f, &browser, &params).await;
    let res = submit_login(&f, &browser, &login, "bob", "pw-bob-123").await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/authorize/consent?"));

    // Deny sends access_denied to the client, in the requested mode.
    let html = f.page(&browser, &location(&res)).await;
    let res = submit_consent(&f, &browser, &html, &[("decision", "deny")]).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert_eq!(hidden(&page, "error"), "access_denied");
    assert_eq!(hidden(&page, "state"), "st-123");
    assert!(!page.contains("name=\"code\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_advertises_the_authorization_endpoint() {
    let f = Front::start("").await;
    let doc = get_json(
        &f.browser(),
        f.url("/.well-known/oauth-authorization-server"),
    )
    .await;
    assert_eq!(
        doc["authorization_endpoint"],
        Value::from(f.url("/authorize"))
    );
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(
        doc["response_modes_supported"],
        json!(["query", "form_post"])
    );
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    let css = f
        .browser()
        .get(f.url("/assets/certbound.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&css, "content-type"), "text/css; charset=utf-8");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_back_off_with_retry_after() {
    let _ = common::audit_log();
    let f = Front::start("").await;
    f.add_user("carol", "Carol", "right-password").await;
    f.public_client("app", None, &[CB]).await;
    let browser = f.browser();
    let (_, challenge) = pkce();
    let params = good_params("app", CB, &challenge);
    let login = open_login(&f, &browser, &params).await;
    for _ in 0..5 {
        let res = submit_login(&f, &browser, &login, "carol", "guess").await;
        assert_eq!(res.status(), 303);
        f.clock.advance(Duration::from_secs(10));
    }
    // Past the threshold even the right password waits.
    let res = submit_login(&f, &browser, &login, "carol", "right-password").await;
    assert_eq!(res.status(), 429);
    assert_eq!(header(&res, "retry-after"), "850");
    assert_page_headers(&res, "'self'");
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Please wait 850 seconds")
    );
    assert!(
        common::audit_log()
            .lines()
            .any(|l| l.contains("login_throttled") && l.contains("username=\"carol\""))
    );
    // Another username from the same address is throttled too (per address).
    let res = submit_login(&f, &browser, &login, "dave", "x").await;
    assert_eq!(res.status(), 429);

    // Once the window has passed, the right password works (in a new
    // interaction: the first one has expired meanwhile).
    f.clock.advance(Duration::from_secs(851));
    let res = submit_login(&f, &browser, &login, "carol", "right-password").await;
    assert_eq!(res.status(), 400, "the old interaction expired");
    let login = open_login(&f, &browser, &params).await;
    let res = submit_login(&f, &browser, &login, "carol", "right-password").await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/authorize/consent?"));
}

#[tokio::test]
async fn the_login_form_is_rate_limited_per_address_and_failures_cost_more() {
    // Each failed sign-in costs 2 of the address's 4; the failed-login
    // backoff (5 per username or address) is not reached.
    let f =
        Front::start("[rate_limits]\naddress_burst = 4\naddress_per_second = 1\nfailure_cost = 2")
            .await;
    f.add_user("carol", "Carol", "right-password").await;
    f.public_client("app", None, &[CB]).await;
    let browser = f.browser();
    let (_, challenge) = pkce();
    let login = open_login(&f, &browser, &good_params("app", CB, &challenge)).await;
    for user in ["erin", "frank"] {
        let res = submit_login(&f, &browser, &login, user, "guess").await;
        assert_eq!(res.status(), 303, "{user}");
    }
    let res = submit_login(&f, &browser, &login, "carol", "right-password").await;
    assert_eq!(res.status(), 429);
    assert_eq!(header(&res, "retry-after"), "1", "one request a second");
    assert_page_headers(&res, "'self'");
    f.clock.advance(Duration::from_secs(1));
    let res = submit_login(&f, &browser, &login, "carol", "right-password").await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/authorize/consent?"));
}
