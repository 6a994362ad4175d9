//! One module per endpoint; [`router`] wires them.

mod health;
mod introspect;
mod metadata;
mod revocations;
mod revoke;
mod token;

use std::sync::Arc;

use axum::Router;
use axum::response::Response;
use axum::routing::{get, post};
use http::{HeaderValue, header};

use crate::AuthorizationServer;

/// RFC 8414 metadata path.
pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";

/// The revocation list of revoked, unexpired JWTs (certbound extension).
pub const REVOCATION_LIST_PATH: &str = "/revocations";

/// The authorization server's routes, ready to serve or to embed.
pub fn router(server: Arc<AuthorizationServer>) -> Router {
    Router::new()
        .route(METADATA_PATH, get(metadata::metadata))
        .route("/jwks", get(metadata::jwks))
        .route("/token", post(token::token))
        .route("/introspect", post(introspect::introspect))
        .route("/revoke", post(revoke::revoke))
        .route(REVOCATION_LIST_PATH, post(revocations::revocations))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(crate::authorize::routes())
        .layer(axum::middleware::map_response(nosniff))
        .with_state(server)
}

/// Every answer is JSON; `nosniff` keeps a browser from rendering one as a
/// page, whatever request input an `error_description` repeats.
async fn nosniff(mut res: Response) -> Response {
    res.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}
