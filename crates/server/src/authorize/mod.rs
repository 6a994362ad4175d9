//! The front channel of the authorization code flow: `/authorize`
//! (RFC 6749 §4.1), the interaction core that login and consent drive, the
//! built-in pages, the admin API a delegated login app uses, and the
//! failed-login backoff.

mod admin;
pub mod backoff;
mod browser;
mod endpoint;
pub mod error;
mod html;
pub mod interaction;
mod pages;
pub mod request;
pub mod response;

use std::sync::Arc;

use axum::Router;
use axum::response::Response;
use axum::routing::{get, post};
use certbound_core::Clock;

pub use backoff::{Backoff, BackoffKey};
pub use browser::BROWSER_COOKIE;
pub use html::form_post_script_hash;

use crate::AuthorizationServer;
use interaction::{Interaction, Next};

/// Where the login page lives.
pub const LOGIN_PATH: &str = "/authorize/login";
/// Where the consent page lives.
pub const CONSENT_PATH: &str = "/authorize/consent";
/// Where a delegated login app sends the browser back to.
pub const CONTINUE_PATH: &str = "/authorize/continue";
/// The admin API's interactions, by challenge.
pub const ADMIN_INTERACTIONS_PATH: &str = "/admin/interactions";

/// The front channel's settings and per-instance state.
#[derive(Debug)]
pub struct FrontChannel {
    /// A delegated login app, instead of the built-in pages.
    pub login_url: Option<String>,
    /// The scope a client needs for the admin API.
    pub admin_scope: String,
    /// The base URL browsers use (for URLs handed to the login app).
    pub base_url: String,
    /// Failed-login counters.
    pub backoff: Backoff,
    /// Where interactions, codes and the backoff read the time.
    pub clock: Arc<dyn Clock>,
}

/// The front channel's routes.
pub fn routes() -> Router<Arc<AuthorizationServer>> {
    Router::new()
        .route(
            "/authorize",
            get(endpoint::authorize_get).post(endpoint::authorize_post),
        )
        .route(CONTINUE_PATH, get(endpoint::continue_interaction))
        .route(LOGIN_PATH, get(pages::login_page).post(pages::login_submit))
        .route(
            CONSENT_PATH,
            get(pages::consent_page).post(pages::consent_submit),
        )
        .route(html::STYLESHEET_PATH, get(pages::stylesheet))
        // Browsers ask for it on every page; a 404 would be logged as an error.
        .route(
            "/favicon.ico",
            get(|| async { http::StatusCode::NO_CONTENT }),
        )
        .nest(
            ADMIN_INTERACTIONS_PATH,
            Router::new()
                .route("/{challenge}", get(admin::show))
                .route("/{challenge}/login", post(admin::login))
                .route("/{challenge}/consent", post(admin::consent))
                .route("/{challenge}/reject", post(admin::reject)),
        )
}

/// `path?challenge=handle`.
fn with_challenge(path: &str, handle: &str) -> String {
    format!("{path}?challenge={handle}")
}

/// Where a new interaction's browser goes first.
fn login_step(server: &AuthorizationServer, handle: &str) -> Response {
    let path = server
        .front_channel
        .login_url
        .as_deref()
        .unwrap_or(LOGIN_PATH);
    html::see_other(&with_challenge(path, handle))
}

/// Where the browser goes for `next`: the built-in page, the login app,
/// or the client.
fn step_response(server: &AuthorizationServer, interaction: &Interaction, next: Next) -> Response {
    let handle = &interaction.handle;
    match (next, &server.front_channel.login_url) {
        (Next::Respond(response), _) => response.into_http(&server.settings.issuer),
        (Next::Login | Next::Consent, Some(app)) => html::see_other(&with_challenge(app, handle)),
        (Next::Login, None) => html::see_other(&with_challenge(LOGIN_PATH, handle)),
        (Next::Consent, None) => html::see_other(&with_challenge(CONSENT_PATH, handle)),
    }
}
