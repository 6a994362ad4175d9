//! `/certbound/check`: the same decision as the proxy, for proxies that
//! forward themselves. nginx `auth_request` passes the original URI in
//! `X-Original-URI` and the certificate in `X-SSL-Client-Cert`; Envoy
//! `ext_authz` (HTTP) appends the original path to the check path and sends
//! `X-Forwarded-Client-Cert`. The listener turns the certificate header into
//! a `PeerCertificate` only when the proxy is trusted.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use certbound_tls::PeerCertificate;
use http::{Request, StatusCode, Uri};
use tracing::info;

use crate::proxy::{GatewayState, authorise, set_identity};
use crate::{CHECK_PATH, routes};

/// Answers 200 with identity headers, or the RFC 6750 401/403.
pub(crate) async fn check(
    State(state): State<Arc<GatewayState>>,
    certificate: Option<PeerCertificate>,
    req: Request<Body>,
) -> Response {
    let headers = req.headers();
    let original: Option<Uri> = headers
        .get("x-original-uri")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .or_else(|| {
            let rest = req
                .uri()
                .path()
                .strip_prefix(CHECK_PATH)
                .filter(|r| r.starts_with('/'))?;
            let pq = match req.uri().query() {
                Some(q) => format!("{rest}?{q}"),
                None => rest.to_owned(),
            };
            pq.parse().ok()
        });
    let path = original.as_ref().map_or("/", Uri::path);
    let query = original.as_ref().and_then(Uri::query);
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(http::header::HOST))
        .and_then(|v| v.to_str().ok());
    let route = routes::find(&state.routes, host, path);
    match authorise(&state, route, headers, query, certificate.as_ref()).await {
        Ok(token) => {
            let mut res = StatusCode::OK.into_response();
            set_identity(res.headers_mut(), &token);
            res
        }
        Err(e) => {
            info!(target: "certbound::audit", event = "check_refused", path, reason = %e);
            e.into_response()
        }
    }
}
