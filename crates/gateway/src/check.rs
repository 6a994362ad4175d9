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
use certbound_tls::{ConnectionInfo, PeerCertificate};
use http::{Request, StatusCode, Uri};
use tracing::info;

use crate::proxy::{GatewayState, authorise, set_identity};
use crate::{CHECK_PATH, routes};

/// Answers 200 with identity headers, or the RFC 6750 401/403. A path no
/// route covers is refused (403): the check never allows by default.
pub(crate) async fn check(
    State(state): State<Arc<GatewayState>>,
    info: ConnectionInfo,
    certificate: Option<PeerCertificate>,
    req: Request<Body>,
) -> Response {
    let headers = req.headers();
    // Only a trusted proxy may say which request it is asking about.
    let trusted = |name: &str| {
        headers
            .get(name)
            .filter(|_| info.trusted_proxy)
            .and_then(|v| v.to_str().ok())
    };
    let original: Option<Uri> = trusted("x-original-uri")
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
    let Some(original) = original else {
        return refuse(
            "the check needs X-Original-URI (nginx) or the original path after /certbound/check (Envoy)",
        );
    };
    let path = match routes::normalize_path(original.path()) {
        Ok(path) => path,
        Err(refusal) => return refuse(refusal.description()),
    };
    let host = trusted("x-forwarded-host").or_else(|| {
        headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
    });
    let route = match routes::find(&state.routes, host, &path) {
        Ok(Some(route)) => route,
        Ok(None) => return refuse("no route covers this host and path"),
        Err(refusal) => return refuse(refusal.description()),
    };
    let Some(guard) = state.readiness.guard() else {
        return state.readiness.refusal();
    };
    match authorise(
        guard,
        Some(route),
        headers,
        original.query(),
        certificate.as_ref(),
    )
    .await
    {
        Ok(token) => {
            let mut res = StatusCode::OK.into_response();
            set_identity(res.headers_mut(), &token);
            res
        }
        Err(e) => {
            info!(target: "certbound::audit", event = "check_refused", path = %path, reason = %e);
            e.into_response()
        }
    }
}

/// 403: nginx's `auth_request` understands only 2xx, 401 and 403.
fn refuse(why: &str) -> Response {
    info!(target: "certbound::audit", event = "check_refused", reason = why);
    crate::proxy::error(StatusCode::FORBIDDEN, "access_denied", why)
}
