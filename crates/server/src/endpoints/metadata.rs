//! `/.well-known/oauth-authorization-server` (RFC 8414) and `/jwks`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};

use crate::AuthorizationServer;

fn json(body: String, cache: &'static str) -> Response {
    let mut res = body.into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    res
}

/// The metadata document, serialised once at start.
pub async fn metadata(State(server): State<Arc<AuthorizationServer>>) -> Response {
    json(server.metadata_json.clone(), "public, max-age=300")
}

/// The published signing keys.
pub async fn jwks(State(server): State<Arc<AuthorizationServer>>) -> Response {
    // Short cache: verifiers refetch on an unknown kid anyway.
    // max-age is `config::JWKS_MAX_AGE_SECONDS`, which key prepublication counts on.
    let mut res = json(server.keys.current_jwks().await, "public, max-age=60");
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    res
}
