//! Every HTML page of the front channel: the templates (askama, escaped by
//! default) and the headers each page carries.

use std::sync::LazyLock;

use askama::Template;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderValue, StatusCode, header};
use sha2::{Digest, Sha256};

use super::error::PageError;

/// The stylesheet every page links to, served by us (no CDN, no fonts).
pub const STYLESHEET: &str = include_str!("../../assets/certbound.css");

/// Where [`STYLESHEET`] is served.
pub const STYLESHEET_PATH: &str = "/assets/certbound.css";

/// The only script we ever serve: it submits the form_post form. Allowed by
/// its hash, so the policy can keep `default-src 'none'`.
pub const FORM_POST_SCRIPT: &str = "document.forms[0].submit();";

static FORM_POST_SCRIPT_HASH: LazyLock<String> = LazyLock::new(|| {
    format!(
        "'sha256-{}'",
        STANDARD.encode(Sha256::digest(FORM_POST_SCRIPT.as_bytes()))
    )
});

/// What every interaction form carries (`interaction_form.html`) and says.
pub struct InteractionForm<'a> {
    /// The interaction handle.
    pub challenge: &'a str,
    /// The CSRF token for the form.
    pub csrf: &'a str,
    /// Who is asking.
    pub client_name: &'a str,
}

/// The login form.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    /// The interaction it belongs to.
    pub form: InteractionForm<'a>,
    /// Whether the last attempt failed.
    pub failed: bool,
}

/// The consent form.
#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    /// The interaction it belongs to.
    pub form: InteractionForm<'a>,
    /// Its `logo_uri` (https only, checked at registration).
    pub logo_uri: Option<&'a str>,
    /// The scopes it asks for.
    pub scopes: &'a [String],
    /// Who is signed in.
    pub user_name: &'a str,
}

/// An error the person sees.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    /// The `error` code.
    pub code: &'a str,
    /// What went wrong.
    pub description: &'a str,
}

/// Too many failed sign-ins.
#[derive(Template)]
#[template(path = "wait.html")]
pub struct WaitPage {
    /// Seconds to wait.
    pub seconds: u64,
}

/// The OAuth 2.0 Form Post response.
#[derive(Template)]
#[template(path = "form_post.html")]
pub struct FormPostPage<'a> {
    /// The client's redirect URI.
    pub action: &'a str,
    /// The response parameters.
    pub params: &'a [(&'static str, String)],
    /// The submitting script.
    pub script: &'static str,
}

/// The extra sources a page's policy allows.
#[derive(Debug, Default, Clone, Copy)]
pub struct Policy<'a> {
    /// An origin forms (and the redirects after them) may go to besides
    /// ours: the client's redirect origin.
    pub form_origin: Option<&'a str>,
    /// Whether the form_post script runs.
    pub form_post_script: bool,
}

/// An HTML response with the headers every page carries.
pub fn page(status: StatusCode, html: String, policy: Policy<'_>) -> Response {
    let mut csp = String::from(
        "default-src 'none'; style-src 'self'; img-src 'self' https:; form-action 'self'",
    );
    if let Some(origin) = policy.form_origin {
        csp.push(' ');
        csp.push_str(origin);
    }
    csp.push_str("; frame-ancestors 'none'; base-uri 'none'");
    if policy.form_post_script {
        csp.push_str("; script-src ");
        csp.push_str(&FORM_POST_SCRIPT_HASH);
    }
    let mut res = Response::new(Body::from(html));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // The origin comes from a registered, parsed redirect URI; a value a
    // header cannot carry drops the extra origin rather than the page.
    let csp = HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static(
        "default-src 'none'; style-src 'self'; img-src 'self' https:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ));
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// Renders a template into a page, or the error page if rendering fails.
pub fn render(status: StatusCode, template: &impl Template, policy: Policy<'_>) -> Response {
    match template.render() {
        Ok(html) => page(status, html, policy),
        Err(e) => error_page(&PageError::internal(&e)),
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        error_page(&self)
    }
}

/// The error page for `e`.
pub fn error_page(e: &PageError) -> Response {
    let html = ErrorPage {
        code: e.kind.as_str(),
        description: &e.description,
    }
    .render()
    // The error template has no fallible parts; plain text is the last resort.
    .unwrap_or_else(|_| "error".to_owned());
    page(e.status, html, Policy::default())
}

/// A redirect URI's origin as a CSP source: `scheme://host:port` for
/// http(s), `scheme:` for an app's private-use scheme.
pub fn csp_origin(redirect_uri: &str) -> Option<String> {
    let url = url::Url::parse(redirect_uri).ok()?;
    match url.scheme() {
        "http" | "https" => Some(url.origin().ascii_serialization()),
        scheme => Some(format!("{scheme}:")),
    }
}

/// The 303 that ends every POST and moves the browser between steps.
pub fn see_other(location: &str) -> Response {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(value) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, value);
    } else {
        return error_page(&PageError::internal(&"unencodable redirect location"));
    }
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

/// The form_post script's hash as a CSP source (for tests and docs).
pub fn form_post_script_hash() -> &'static str {
    &FORM_POST_SCRIPT_HASH
}
