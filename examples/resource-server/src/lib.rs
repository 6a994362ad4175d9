//! A resource server that enforces RFC 8705 certificate-bound tokens
//! in-process: the same `certbound-guard` code the gateway runs, as a tower
//! layer per route, and the caller's identity as an axum extractor.

use axum::Router;
use axum::routing::get;
use certbound_guard::{BoundClient, Guard, GuardLayer};
use serde_json::{Value, json};

/// `GET /hello` needs scope `hello.read`; `GET /admin` needs `admin`.
pub fn app(guard: Guard) -> Router {
    Router::new()
        .route(
            "/hello",
            get(hello).route_layer(GuardLayer::new(guard.clone()).require_scopes(["hello.read"])),
        )
        .route(
            "/admin",
            get(hello).route_layer(GuardLayer::new(guard).require_scopes(["admin"])),
        )
}

/// Greets the verified caller; the extractor only exists behind the layer.
async fn hello(BoundClient(caller): BoundClient) -> axum::Json<Value> {
    axum::Json(json!({
        "message": format!("hello {}", caller.client_id),
        "scopes": caller.scopes,
        "bound_to": caller.thumbprint.map(|t| t.to_string()),
    }))
}
