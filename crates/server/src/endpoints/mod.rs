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

use certbound_store::RefreshTokenGrant;

use crate::clients::auth::AuthenticatedRequest;
use crate::grants::refresh_token;
use crate::{AuthorizationServer, OAuthError};

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

/// The `token` parameter of an introspection or revocation request, and,
/// when it is one of our refresh tokens, its grant.
async fn presented_token(
    request: &AuthenticatedRequest,
) -> Result<(&str, Option<RefreshTokenGrant>), OAuthError> {
    let token = request
        .form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let refresh = refresh_token::find(&request.server, token).await?;
    Ok((token, refresh))
}
