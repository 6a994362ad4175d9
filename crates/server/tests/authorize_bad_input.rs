//! A table of bad inputs to `/authorize` and the pages: each row's exact
//! error (code and description), where it is shown (an error page, never a
//! redirect, until the client and redirect URI are known good; then the
//! client's redirect URI), and that no row in interactions, codes or
//! consents changed (nor did any interaction complete).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod front;

use std::time::Duration;

use certbound_core::AuthMethod;
use certbound_server::clients::ClientMetadata;
use front::{
    Db, Front, LoginForm, hidden, location, on_both_backends, open_login, param, pkce, post_form,
    submit_login,
};

const CB: &str = "https://app.example/cb";
const CB2: &str = "https://app.example/cb2";

/// A page submission row: name, browser, URL, form, description.
type PageRow<'a> = (
    &'a str,
    &'a reqwest::Client,
    &'a str,
    Vec<(&'a str, &'a str)>,
    &'a str,
);
/// A consent row: name, browser, form, description.
type ConsentRow<'a> = (
    &'a str,
    &'a reqwest::Client,
    Vec<(&'a str, &'a str)>,
    &'a str,
);

/// Where an error is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    /// An HTML error page with status 400; no redirect.
    Page,
    /// A 303 to the client's redirect URI.
    Redirect,
    /// A form_post page to the client's redirect URI.
    FormPost,
}

/// The good request, then `changes` (a `None` value removes the parameter).
fn query(changes: &[(&str, Option<&str>)], challenge: &str) -> String {
    let mut params: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", "app"),
        ("redirect_uri", CB),
        ("scope", "read"),
        ("state", "s1"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (name, value) in changes {
        params.retain(|(k, _)| k != name);
        if let Some(v) = value {
            params.push(((*name).to_owned(), (*v).to_owned()));
        }
    }
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &params {
        q.append_pair(k, v);
    }
    q.finish()
}

fn unescape(html: &str) -> String {
    html.replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Checks `res` shows `code` and `description` as `shown`.
async fn check(row: &str, res: reqwest::Response, shown: Shown, code: &str, description: &str) {
    let status = res.status().as_u16();
    let to = location(&res);
    let body = unescape(&res.text().await.unwrap());
    match shown {
        Shown::Page => {
            assert_eq!(status, 400, "{row}: {to} {body}");
            assert!(to.is_empty(), "{row}: redirected to {to}");
            assert!(
                body.contains(&format!("Error code: <code>{code}</code>")),
                "{row}: {body}"
            );
            assert!(
                body.contains(&format!(">{description}</p>")),
                "{row}: want {description:?} in {body}"
            );
        }
        Shown::Redirect => {
            assert_eq!(status, 303, "{row}: {body}");
            assert!(to.starts_with(&format!("{CB}?error=")), "{row}: {to}");
            assert_eq!(param(&to, "error").as_deref(), Some(code), "{row}");
            assert_eq!(
                param(&to, "error_description").as_deref(),
                Some(description),
                "{row}"
            );
            assert_eq!(param(&to, "state").as_deref(), Some("s1"), "{row}");
            assert!(param(&to, "iss").is_some(), "{row}");
            assert!(param(&to, "code").is_none(), "{row}");
        }
        Shown::FormPost => {
            assert_eq!(status, 200, "{row}: {body}");
            assert!(body.contains(&format!("action=\"{CB}\"")), "{row}: {body}");
            assert_eq!(hidden(&body, "error"), code, "{row}");
            assert_eq!(hidden(&body, "error_description"), description, "{row}");
            assert_eq!(hidden(&body, "state"), "s1", "{row}");
        }
    }
}

async fn setup(db: Db) -> Front {
    let f = Front::start_on(db, "").await;
    f.add_user("alice", "Alice", "alice-password").await;
    f.public_client("app", Some("App"), &[CB, CB2]).await;
    // Code grant without refresh: offline_access is not for it.
    let mut web = ClientMetadata::new(AuthMethod::None);
    web.grant_types = vec!["authorization_code".into()];
    web.redirect_uris = vec![CB.into()];
    web.scope = "read".into();
    f.register("web", web).await;
    // Redirect URIs but no code grant.
    let mut cc = certbound_testkit::server::tls_client("cc");
    cc.redirect_uris = vec![CB.into()];
    f.register("cc", cc).await;
    // A machine client with no redirect URI at all.
    f.register("m2m", certbound_testkit::server::tls_client("m2m"))
        .await;
    f
}

on_both_backends!(
    bad_authorization_requests,
    super::bad_authorization_requests_on
);

async fn bad_authorization_requests_on(db: Db) {
    let f = setup(db).await;
    let (_, ch) = pkce();
    let long = "x".repeat(2049);
    let two_states = format!("{}&state=s2", query(&[], &ch));
    let not_utf8 = format!("{}&nonce=%ff", query(&[], &ch));
    use Shown::*;
    let rows: Vec<(&str, String, Shown, &str, &str)> = vec![
        (
            "unregistered redirect_uri",
            query(&[("redirect_uri", Some("https://evil.example/cb"))], &ch),
            Page,
            "invalid_request",
            "redirect_uri is not one the client registered (they must match exactly)",
        ),
        (
            "redirect_uri with a trailing slash",
            query(&[("redirect_uri", Some("https://app.example/cb/"))], &ch),
            Page,
            "invalid_request",
            "redirect_uri is not one the client registered (they must match exactly)",
        ),
        (
            "redirect_uri in another case",
            query(&[("redirect_uri", Some("https://APP.example/cb"))], &ch),
            Page,
            "invalid_request",
            "redirect_uri is not one the client registered (they must match exactly)",
        ),
        (
            "missing redirect_uri, two registered",
            query(&[("redirect_uri", None)], &ch),
            Page,
            "invalid_request",
            "redirect_uri is required: the client registered more than one",
        ),
        (
            "unknown client",
            query(&[("client_id", Some("nobody"))], &ch),
            Page,
            "invalid_request",
            "unknown client_id: no client is registered with this id",
        ),
        (
            "missing client_id",
            query(&[("client_id", None)], &ch),
            Page,
            "invalid_request",
            "client_id is required",
        ),
        (
            "duplicate parameter",
            two_states,
            Page,
            "invalid_request",
            "parameter 'state' is repeated; send each parameter once",
        ),
        (
            "oversized parameter",
            query(&[("state", Some(&long))], &ch),
            Page,
            "invalid_request",
            "parameter 'state' is longer than 2048 bytes",
        ),
        (
            "not UTF-8",
            not_utf8,
            Page,
            "invalid_request",
            "the form body is not valid UTF-8",
        ),
        (
            "client without redirect URIs",
            query(&[("client_id", Some("m2m")), ("redirect_uri", None)], &ch),
            Page,
            "invalid_request",
            "this client has no registered redirect_uri, so it cannot use /authorize",
        ),
        (
            "client without the authorization_code grant",
            query(&[("client_id", Some("cc"))], &ch),
            Redirect,
            "unauthorized_client",
            "this client may not use the authorization_code grant",
        ),
        (
            "response_type=token",
            query(&[("response_type", Some("token"))], &ch),
            Redirect,
            "unsupported_response_type",
            "response_type must be code",
        ),
        (
            "missing response_type",
            query(&[("response_type", None)], &ch),
            Redirect,
            "invalid_request",
            "response_type is required",
        ),
        (
            "plain method",
            query(&[("code_challenge_method", Some("plain"))], &ch),
            Redirect,
            "invalid_request",
            "code_challenge_method must be S256; plain is not accepted",
        ),
        (
            "missing method",
            query(&[("code_challenge_method", None)], &ch),
            Redirect,
            "invalid_request",
            "code_challenge_method must be S256; plain is not accepted",
        ),
        (
            "missing challenge",
            query(&[("code_challenge", None)], &ch),
            Redirect,
            "invalid_request",
            "code_challenge is required (PKCE with S256)",
        ),
        (
            "bad challenge syntax",
            query(&[("code_challenge", Some("short!"))], &ch),
            Redirect,
            "invalid_request",
            "code_challenge must be the base64url SHA-256 of the verifier (43 characters)",
        ),
        (
            "scope not registered",
            query(&[("scope", Some("read admin"))], &ch),
            Redirect,
            "invalid_scope",
            "scope 'admin' is not registered for this client",
        ),
        (
            "offline_access without the refresh grant",
            query(
                &[
                    ("client_id", Some("web")),
                    ("scope", Some("read offline_access")),
                ],
                &ch,
            ),
            Redirect,
            "invalid_scope",
            "scope 'offline_access' is not registered for this client",
        ),
        (
            "unknown response_mode",
            query(&[("response_mode", Some("fragment"))], &ch),
            Redirect,
            "invalid_request",
            "response_mode must be query or form_post",
        ),
        (
            "error in form_post mode",
            query(
                &[
                    ("response_mode", Some("form_post")),
                    ("code_challenge_method", Some("plain")),
                ],
                &ch,
            ),
            FormPost,
            "invalid_request",
            "code_challenge_method must be S256; plain is not accepted",
        ),
    ];
    let browser = f.browser();
    for (row, q, shown, code, description) in rows {
        let before = f.counts().await;
        let res = browser
            .get(f.url(&format!("/authorize?{q}")))
            .send()
            .await
            .unwrap();
        assert!(
            res.headers().get("set-cookie").is_none(),
            "{row}: a cookie was set"
        );
        check(row, res, shown, code, description).await;
        assert_eq!(f.counts().await, before, "{row}: rows changed");
    }
    // POST /authorize is checked the same way.
    let before = f.counts().await;
    let res = post_form(
        &browser,
        &f.url("/authorize"),
        &[
            ("client_id", "app"),
            ("redirect_uri", "https://evil.example/"),
        ],
    )
    .await;
    check(
        "POST, unregistered redirect_uri",
        res,
        Page,
        "invalid_request",
        "redirect_uri is not one the client registered (they must match exactly)",
    )
    .await;
    assert_eq!(f.counts().await, before);
}

const CSRF: &str =
    "the form is missing its security token or the token is wrong; reload the page and try again";
const OTHER_BROWSER: &str = "this sign-in request was started in another browser; start again from the application in this one";
const COMPLETED: &str =
    "this sign-in request has already been completed; start again from the application";

/// Logs in and returns the consent form's fields.
async fn to_consent(f: &Front, browser: &reqwest::Client, login: &LoginForm) -> (String, String) {
    let res = submit_login(f, browser, login, "alice", "alice-password").await;
    let html = f.page(browser, &location(&res)).await;
    (hidden(&html, "challenge"), hidden(&html, "csrf_token"))
}

on_both_backends!(bad_page_submissions, super::bad_page_submissions_on);

async fn bad_page_submissions_on(db: Db) {
    let f = setup(db).await;
    let (_, ch) = pkce();
    let params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", "app"),
        ("redirect_uri", CB),
        ("state", "s1"),
        ("code_challenge", &ch),
        ("code_challenge_method", "S256"),
    ];
    let browser = f.browser();
    let login = open_login(&f, &browser, &params).await;
    // Another browser with an interaction (and cookie) of its own.
    let other = f.browser();
    let other_login = open_login(&f, &other, &params).await;
    let fresh = f.browser();
    let login_url = f.url("/authorize/login");
    let consent_url = f.url("/authorize/consent");

    let rows: Vec<PageRow<'_>> = vec![
        (
            "login without CSRF token",
            &browser,
            &login_url,
            vec![
                ("challenge", &login.challenge),
                ("username", "alice"),
                ("password", "alice-password"),
            ],
            CSRF,
        ),
        (
            "login with a wrong CSRF token",
            &browser,
            &login_url,
            vec![
                ("challenge", &login.challenge),
                ("csrf_token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                ("username", "alice"),
                ("password", "alice-password"),
            ],
            CSRF,
        ),
        (
            "login with another interaction's CSRF token",
            &browser,
            &login_url,
            vec![
                ("challenge", &login.challenge),
                ("csrf_token", &other_login.csrf),
                ("username", "alice"),
                ("password", "alice-password"),
            ],
            CSRF,
        ),
        (
            "login from a browser without the cookie",
            &fresh,
            &login_url,
            vec![
                ("challenge", &login.challenge),
                ("csrf_token", &login.csrf),
                ("username", "alice"),
                ("password", "alice-password"),
            ],
            OTHER_BROWSER,
        ),
        (
            "login with another browser's cookie",
            &other,
            &login_url,
            vec![
                ("challenge", &login.challenge),
                ("csrf_token", &login.csrf),
                ("username", "alice"),
                ("password", "alice-password"),
            ],
            OTHER_BROWSER,
        ),
        (
            "login with an unknown challenge",
            &browser,
            &login_url,
            vec![
                ("challenge", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                ("csrf_token", &login.csrf),
                ("username", "alice"),
                ("password", "alice-password"),
            ],
            "this sign-in request is unknown; start again from the application",
        ),
        (
            "login without a challenge",
            &browser,
            &login_url,
            vec![("csrf_token", &login.csrf), ("username", "alice")],
            "challenge is required",
        ),
        (
            "consent before login",
            &browser,
            &consent_url,
            vec![
                ("challenge", &login.challenge),
                ("csrf_token", &login.csrf),
                ("decision", "allow"),
            ],
            "nobody has signed in to this request yet",
        ),
    ];
    for (row, client, url, form, description) in rows {
        let (before, completed) = (f.counts().await, f.completed_interactions().await);
        let res = post_form(client, url, &form).await;
        check(row, res, Shown::Page, "invalid_request", description).await;
        assert_eq!(f.counts().await, before, "{row}: rows changed");
        assert_eq!(f.completed_interactions().await, completed, "{row}");
        // The interaction is still usable: nobody signed in.
        let stored = f
            .store()
            .interaction(&certbound_server::tokens::token_hash(&login.challenge))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.user_id, None, "{row}");
    }

    let (challenge, csrf) = to_consent(&f, &browser, &login).await;
    let rows: Vec<ConsentRow<'_>> = vec![
        (
            "consent without CSRF token",
            &browser,
            vec![("challenge", &challenge), ("decision", "allow")],
            CSRF,
        ),
        (
            "consent with another browser's CSRF token",
            &browser,
            vec![
                ("challenge", &challenge),
                ("csrf_token", &other_login.csrf),
                ("decision", "allow"),
            ],
            CSRF,
        ),
        (
            "consent from another browser",
            &other,
            vec![
                ("challenge", &challenge),
                ("csrf_token", &csrf),
                ("decision", "allow"),
            ],
            OTHER_BROWSER,
        ),
        (
            "consent with an unknown decision",
            &browser,
            vec![
                ("challenge", &challenge),
                ("csrf_token", &csrf),
                ("decision", "maybe"),
            ],
            "decision must be allow or deny",
        ),
    ];
    for (row, client, form, description) in rows {
        let (before, completed) = (f.counts().await, f.completed_interactions().await);
        let res = post_form(client, &consent_url, &form).await;
        check(row, res, Shown::Page, "invalid_request", description).await;
        assert_eq!(f.counts().await, before, "{row}: rows changed");
        assert_eq!(f.completed_interactions().await, completed, "{row}");
    }

    // Replayed consent: the first gets the code, the replay an error page.
    let allow = vec![
        ("challenge", challenge.as_str()),
        ("csrf_token", csrf.as_str()),
        ("decision", "allow"),
    ];
    let res = post_form(&browser, &consent_url, &allow).await;
    assert_eq!(res.status(), 303);
    let (before, completed) = (f.counts().await, f.completed_interactions().await);
    let res = post_form(&browser, &consent_url, &allow).await;
    check(
        "replayed consent form",
        res,
        Shown::Page,
        "invalid_request",
        COMPLETED,
    )
    .await;
    let res = post_form(
        &browser,
        &consent_url,
        &[
            ("challenge", &challenge),
            ("csrf_token", &csrf),
            ("decision", "deny"),
        ],
    )
    .await;
    check(
        "deny after allow",
        res,
        Shown::Page,
        "invalid_request",
        COMPLETED,
    )
    .await;
    assert_eq!(
        (f.counts().await, f.completed_interactions().await),
        (before, completed)
    );

    // Expired: the other browser's interaction, ten minutes on.
    f.clock.advance(Duration::from_secs(601));
    let (before, completed) = (f.counts().await, f.completed_interactions().await);
    let res = submit_login(&f, &other, &other_login, "alice", "alice-password").await;
    check(
        "expired interaction",
        res,
        Shown::Page,
        "invalid_request",
        "this sign-in request has expired; start again from the application",
    )
    .await;
    assert_eq!(
        (f.counts().await, f.completed_interactions().await),
        (before, completed)
    );
}
