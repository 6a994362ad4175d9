//! A tiny protected resource on 127.0.0.1:0 (mTLS, certbound-tls): it
//! accepts a Bearer JWT only if its `cnf.x5t#S256` is the thumbprint of the
//! client certificate on the connection. The signature is not checked: this
//! resource tests the client, not the token. Also used by the CLI tests.

#![allow(dead_code, missing_docs)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use certbound_testkit::TestPki;
use certbound_testkit::server::serve_mtls;
use certbound_tls::PeerCertificate;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// One request the resource received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub token: Option<String>,
    pub body: Vec<u8>,
}

/// What the resource saw and which tokens it refuses.
#[derive(Debug, Default)]
pub struct ResourceState {
    seen: Mutex<Vec<Seen>>,
    revoked: Mutex<HashSet<String>>,
    reject_all: Mutex<bool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ResourceState {
    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.seen).clone()
    }

    /// Refuses `token` as invalid from now on.
    pub fn revoke(&self, token: &str) {
        lock(&self.revoked).insert(token.to_owned());
    }

    /// Refuses every token as invalid.
    pub fn reject_all(&self) {
        *lock(&self.reject_all) = true;
    }
}

#[allow(unused_imports)]
pub use certbound_testkit::jwt_claims;

fn unauthorized(challenge: &'static str, why: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        )],
        axum::Json(json!({ "error": why })),
    )
        .into_response()
}

async fn handle(
    State(state): State<Arc<ResourceState>>,
    cert: Option<PeerCertificate>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    lock(&state.seen).push(Seen {
        method: method.to_string(),
        path: uri.path().to_owned(),
        token: token.clone(),
        body: body.to_vec(),
    });
    let Some(token) = token else {
        return unauthorized("Bearer", "no bearer token");
    };
    if *lock(&state.reject_all) || lock(&state.revoked).contains(&token) {
        return unauthorized(
            r#"Bearer error="invalid_token", error_description="revoked""#,
            "revoked",
        );
    }
    let claims = jwt_claims(&token);
    let bound = claims["cnf"]["x5t#S256"].as_str().unwrap_or_default();
    let presented = cert.map(|c| c.thumbprint().to_string());
    if bound.is_empty() || presented.as_deref() != Some(bound) {
        return unauthorized(
            r#"Bearer error="invalid_token", error_description="not bound to the presented certificate""#,
            "certificate mismatch",
        );
    }
    if uri.path() == "/forbidden" {
        return (
            StatusCode::FORBIDDEN,
            [(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer error="insufficient_scope""#),
            )],
            "forbidden\n",
        )
            .into_response();
    }
    let echoed: serde_json::Map<String, Value> = headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("x-"))
        .map(|(name, value)| {
            (
                name.to_string(),
                Value::from(value.to_str().unwrap_or_default()),
            )
        })
        .collect();
    axum::Json(json!({
        "method": method.as_str(),
        "path": uri.path(),
        "body": String::from_utf8_lossy(&body),
        "client_id": claims["client_id"],
        "x5t#S256": bound,
        "headers": echoed,
    }))
    .into_response()
}

/// A running resource; stops when dropped.
pub struct Resource {
    /// `https://localhost:PORT`.
    pub url: String,
    pub state: Arc<ResourceState>,
    _stop: oneshot::Sender<()>,
}

impl Resource {
    /// Serves the resource with the PKI's server certificate, requesting client certificates.
    pub async fn start(pki: &TestPki) -> Self {
        let state = Arc::new(ResourceState::default());
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&state));
        let (stop, stopped) = oneshot::channel::<()>();
        let port = serve_mtls(pki, app, async move {
            let _ = stopped.await;
        })
        .await;
        Self {
            url: format!("https://localhost:{port}"),
            state,
            _stop: stop,
        }
    }
}
