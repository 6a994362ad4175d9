//! Forwarding an authorised request to its upstream: streamed both ways,
//! hop-by-hop and caller-supplied identity headers removed, identity
//! headers added.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use certbound_guard::{Guard, GuardError, InvalidToken, VerifiedToken};
use certbound_tls::{ChainStatus, ConnectionInfo, PeerCertificate};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, StatusCode, Uri};
use serde_json::json;
use tracing::{info, warn};

use crate::headers;
use crate::ready::Readiness;
use crate::routes::{self, Route};
use crate::upstream::Origin;

/// Everything a request needs, shared.
pub(crate) struct GatewayState {
    /// The guard, once the authorization server has been reached.
    pub(crate) readiness: Readiness,
    pub(crate) routes: Vec<Route>,
    /// Connection pools, one per upstream origin (`Route::origin` indexes it).
    pub(crate) origins: Vec<Arc<Origin>>,
    pub(crate) forward_client_cert: bool,
    pub(crate) request_timeout: Duration,
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) never forwarded in either direction.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// 405 for methods the gateway never forwards or answers: `TRACE` (and
/// IIS's `TRACK`) echo the request, headers and all; `CONNECT` would make
/// the gateway a tunnel.
pub(crate) fn refused_method(method: &http::Method) -> Option<Response> {
    let refused = *method == http::Method::TRACE
        || *method == http::Method::CONNECT
        || method.as_str() == "TRACK";
    if !refused {
        return None;
    }
    let mut res = error(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request",
        &format!("the {method} method is not allowed"),
    );
    res.headers_mut().insert(
        header::ALLOW,
        HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
    );
    Some(res)
}

/// 400 for a path the gateway will not route (see the refusal table in
/// docs/gateway.md), with one audit event.
fn refused(refusal: routes::PathRefusal) -> Response {
    info!(target: "certbound::audit", event = "request_refused", reason = ?refusal);
    error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        refusal.description(),
    )
}

/// The gateway's own error answer: JSON that a browser never sniffs into a
/// page, however much of the request the description repeats.
pub(crate) fn error(status: StatusCode, code: &str, description: &str) -> Response {
    let mut res = (
        status,
        axum::Json(json!({ "error": code, "error_description": description })),
    )
        .into_response();
    res.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// Verifies the request against its route; the caller decides what to do next.
pub(crate) async fn authorise(
    guard: &Guard,
    route: Option<&Route>,
    headers: &HeaderMap,
    query: Option<&str>,
    certificate: Option<&PeerCertificate>,
) -> Result<Arc<VerifiedToken>, GuardError> {
    let token = guard
        .verify_shared(headers, query, certificate.map(PeerCertificate::thumbprint))
        .await?;
    if let Some(route) = route {
        // The guard accepted one of the gateway's audiences; this route
        // wants its own.
        if token.audience != route.audience {
            return Err(GuardError::InvalidToken(InvalidToken::WrongAudience));
        }
        token.require_scopes(&route.scopes)?;
    }
    Ok(token)
}

/// Sets the identity headers on a header map (upstream request or check answer).
pub(crate) fn set_identity(map: &mut HeaderMap, token: &VerifiedToken) {
    // Rendered once per verified token; a value that is not visible ASCII
    // is left out.
    let id = token.identity_values();
    for (name, value) in [
        (CLIENT_ID, &id.client_id),
        (SUBJECT, &id.subject),
        (SCOPE, &id.scope),
        (CERT_THUMBPRINT, &id.thumbprint),
    ] {
        if let Some(v) = value {
            map.insert(name, v.clone());
        }
    }
}

const CLIENT_ID: HeaderName = HeaderName::from_static(headers::CLIENT_ID);
const SUBJECT: HeaderName = HeaderName::from_static(headers::SUBJECT);
const SCOPE: HeaderName = HeaderName::from_static(headers::SCOPE);
const CERT_THUMBPRINT: HeaderName = HeaderName::from_static(headers::CERT_THUMBPRINT);
const CLIENT_CERT: HeaderName = HeaderName::from_static("client-cert");
const CERT_CHAIN: HeaderName = HeaderName::from_static(headers::CERT_CHAIN);
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Whether a header must not pass: hop-by-hop, or one the gateway sets
/// (identity, certificate, `X-Forwarded-For`) under a spelling that CGI,
/// WSGI or PHP would read as it (`X_Certbound_Client_Id`,
/// `x.certbound.scope`, `Client_Cert`, `X_Forwarded_For`).
fn doomed(name: &HeaderName) -> bool {
    let name = name.as_str();
    HOP_BY_HOP.contains(&name)
        || certbound_tls::proxy::folded_starts_with(name, headers::PREFIX)
        || certbound_tls::proxy::is_certificate_header(name)
        // The exact name is the gateway's own (see `append_forwarded_for`).
        || (name != "x-forwarded-for" && certbound_tls::proxy::folded_eq(name, "x-forwarded-for"))
}

/// Whether a header tells an upstream where the request came from or how
/// it arrived (`Forwarded`, `X-Real-IP`, `X-Forwarded-Host`/`-Proto`/`-Port`,
/// `True-Client-IP`…, under any spelling): believed by Spring's
/// `ForwardedHeaderFilter`, nginx `real_ip_header` and IP allow-lists, so
/// only a trusted proxy may send them. `X-Forwarded-For` is rebuilt instead.
fn is_forwarding(name: &HeaderName) -> bool {
    use certbound_tls::proxy::{folded_eq, folded_starts_with};
    let name = name.as_str();
    // Most names cannot match: one byte decides.
    if !matches!(
        name.as_bytes().first(),
        Some(b'f' | b'F' | b'x' | b'X' | b't' | b'T' | b'c' | b'C')
    ) {
        return false;
    }
    (folded_starts_with(name, "x-forwarded-") && !folded_eq(name, "x-forwarded-for"))
        || [
            "forwarded",
            "x-real-ip",
            "true-client-ip",
            "x-client-ip",
            "x-cluster-client-ip",
            "cf-connecting-ip",
        ]
        .iter()
        .any(|n| folded_eq(name, n))
}

/// Removes hop-by-hop headers, those named in `Connection`, and every
/// header a caller could pass off as one the gateway sets ([`doomed`]).
/// Runs before the gateway sets its own.
pub(crate) fn strip(map: &mut HeaderMap) {
    strip_where(map, doomed);
}

/// [`strip`] for a request, which also loses the forwarding headers
/// ([`is_forwarding`]) unless a trusted proxy sent them.
fn strip_request(map: &mut HeaderMap, from_trusted_proxy: bool) {
    if from_trusted_proxy {
        strip_where(map, doomed);
    } else {
        strip_where(map, |n| doomed(n) || is_forwarding(n));
    }
}

fn strip_where(map: &mut HeaderMap, doomed: impl Fn(&HeaderName) -> bool) {
    // One look at the names first: on nearly every request there is nothing
    // to remove, and each removal costs a hashed lookup.
    if !map.keys().any(&doomed) {
        return;
    }
    let named: Vec<HeaderName> = map
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in named {
        map.remove(n);
    }
    let owned: Vec<HeaderName> = map.keys().filter(|k| doomed(k)).cloned().collect();
    for n in owned {
        map.remove(n);
    }
}

fn host_of(req: &Request<Body>) -> Option<&str> {
    req.uri()
        .authority()
        .map(http::uri::Authority::as_str)
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
        })
}

/// The router's fallback (paths under the check endpoint that are not it).
pub(crate) async fn forward(
    State(state): State<Arc<GatewayState>>,
    info: ConnectionInfo,
    certificate: Option<PeerCertificate>,
    req: Request<Body>,
) -> Response {
    proxy(state, info, certificate, req).await
}

/// Routes, authorises and forwards one request. Takes everything by value,
/// so a caller can box this future as it is, without a wrapper around it.
pub(crate) async fn proxy(
    state: Arc<GatewayState>,
    info: ConnectionInfo,
    certificate: Option<PeerCertificate>,
    mut req: Request<Body>,
) -> Response {
    let path = match routes::normalize_path(req.uri().path()) {
        Ok(path) => path,
        Err(refusal) => return refused(refusal),
    };
    let route = match routes::find(&state.routes, host_of(&req), &path) {
        Ok(Some(route)) => route,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                "not_found",
                "no route for this host and path",
            );
        }
        Err(refusal) => return refused(refusal),
    };
    let Some(guard) = state.readiness.guard() else {
        return state.readiness.refusal();
    };
    let token = match authorise(
        guard,
        Some(route),
        req.headers(),
        req.uri().query(),
        certificate.as_ref(),
    )
    .await
    {
        Ok(t) => t,
        Err(e) => {
            info!(target: "certbound::audit", event = "request_refused", path = %req.uri().path(), reason = %e);
            return e.into_response();
        }
    };
    // Forward exactly the path the routing decision was made on.
    let (Some(target), Some(origin)) = (
        upstream_target(&route.upstream, req.uri(), &path),
        state.origins.get(route.origin),
    ) else {
        return error(
            StatusCode::BAD_GATEWAY,
            "bad_gateway",
            "cannot build the upstream URL",
        );
    };
    *req.uri_mut() = target;
    let headers = req.headers_mut();
    strip_request(headers, info.trusted_proxy);
    headers.remove(header::HOST);
    set_identity(headers, &token);
    append_forwarded_for(headers, &info);
    if let Some(cert) = certificate.as_ref().filter(|_| state.forward_client_cert) {
        let value = format!(
            ":{}:",
            base64::engine::general_purpose::STANDARD.encode(cert.end_entity())
        );
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(CLIENT_CERT, v);
        }
        // Say whether any CA vouched for it: a self-signed DN proves nothing.
        let chain = match cert.chain_status() {
            ChainStatus::Valid => "valid",
            ChainStatus::Invalid(_) => "invalid",
            ChainStatus::NoTrustAnchors => "unchecked",
        };
        headers.insert(CERT_CHAIN, HeaderValue::from_static(chain));
    }
    *req.version_mut() = http::Version::HTTP_11;
    let upstream = &route.upstream;
    match tokio::time::timeout(state.request_timeout, origin.send(req)).await {
        Ok(Ok(mut res)) => {
            strip(res.headers_mut());
            res
        }
        Ok(Err(e)) => {
            warn!(upstream = %upstream, error = %e, "upstream request failed");
            // The caller learns nothing about the network behind the gateway.
            error(
                StatusCode::BAD_GATEWAY,
                "bad_gateway",
                "the upstream is unreachable or failed",
            )
        }
        Err(_) => {
            warn!(upstream = %upstream, "upstream timed out");
            error(
                StatusCode::GATEWAY_TIMEOUT,
                "gateway_timeout",
                "the upstream did not answer in time",
            )
        }
    }
}

fn append_forwarded_for(headers: &mut HeaderMap, info: &ConnectionInfo) {
    let value = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        // Behind a trusted proxy keep its chain; otherwise start fresh.
        Some(existing) if info.trusted_proxy => {
            let ip = info.peer_ip.to_str().unwrap_or_default();
            HeaderValue::from_str(&format!("{existing}, {ip}")).ok()
        }
        _ => Some(info.peer_ip.clone()),
    };
    if let Some(v) = value {
        headers.insert(X_FORWARDED_FOR, v);
    }
}

/// The origin-form target upstream: its base path + the (normalised) path
/// and the `original` request's query.
fn upstream_target(base: &Uri, original: &Uri, path: &str) -> Option<Uri> {
    let base_path = base.path().trim_end_matches('/');
    if base_path.is_empty() && path == original.path() {
        // Normalising left the path as it came: forward the request's own
        // path and query, shared rather than copied and parsed again.
        return original.path_and_query().cloned().map(Uri::from);
    }
    let query = original.query();
    let mut target =
        String::with_capacity(base_path.len() + path.len() + query.map_or(0, |q| q.len() + 1));
    target.push_str(base_path);
    target.push_str(path);
    if let Some(q) = query {
        target.push('?');
        target.push_str(q);
    }
    Uri::try_from(target).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_upstream_uris_and_strips_headers() {
        let base = Uri::from_static("http://10.0.0.1:8080/base/");
        let request = Uri::from_static("/api/x?y=1");
        let target = |base: &Uri, request: &Uri| {
            let path = crate::routes::normalize_path(request.path()).ok();
            path.and_then(|p| upstream_target(base, request, &p))
                .map(|u| u.to_string())
        };
        assert_eq!(target(&base, &request), Some("/base/api/x?y=1".into()));
        // Without a base path the request's own path and query go upstream,
        // as sent or as normalised.
        for root in ["http://10.0.0.1:8080", "http://10.0.0.1:8080/"] {
            let root = Uri::from_static(root);
            assert_eq!(target(&root, &request), Some("/api/x?y=1".into()));
            let absolute = Uri::from_static("https://gw.example/api/x?y=1");
            assert_eq!(target(&root, &absolute), Some("/api/x?y=1".into()));
            let escaped = Uri::from_static("/api/%78%2f?q=%41");
            assert_eq!(target(&root, &escaped), None, "encoded slash");
            let escaped = Uri::from_static("/api/%78%7e%3a?q=%41");
            assert_eq!(target(&root, &escaped), Some("/api/x~%3A?q=%41".into()));
            assert_eq!(
                target(&root, &Uri::from_static("/api/x")),
                Some("/api/x".into())
            );
        }
        let mut h = HeaderMap::new();
        h.insert(
            "connection",
            HeaderValue::from_static("x-secret, keep-alive"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("X-Certbound-Client-Id", HeaderValue::from_static("admin"));
        h.insert("x-certbound-anything", HeaderValue::from_static("1"));
        h.insert("accept", HeaderValue::from_static("*/*"));
        for spelling in [
            "X_Certbound_Client_Id",
            "x.certbound.subject",
            "X-CERTBOUND_SCOPE",
            "Client_Cert",
            "X-Forwarded_Client-Cert",
            "x_forwarded_for",
        ] {
            h.insert(spelling, HeaderValue::from_static("admin"));
        }
        h.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        strip(&mut h);
        let mut left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["accept", "x-forwarded-for"]);
        // Nothing to strip: the map is left as it was.
        strip(&mut h);
        assert_eq!(h.len(), 2);
        // Forwarding headers: kept from a trusted proxy, dropped from anyone else.
        for spelling in [
            "Forwarded",
            "X-Real-IP",
            "x_real_ip",
            "X-Forwarded-Host",
            "X_Forwarded_Proto",
            "x-forwarded-port",
            "True-Client-IP",
            "CF-Connecting-IP",
        ] {
            h.insert(spelling, HeaderValue::from_static("10.0.0.5"));
        }
        let mut trusted = h.clone();
        strip_request(&mut trusted, true);
        assert_eq!(trusted.len(), 10);
        strip_request(&mut h, false);
        let mut left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["accept", "x-forwarded-for"]);
    }

    #[test]
    fn trace_track_and_connect_are_refused() {
        for m in ["TRACE", "TRACK", "CONNECT"] {
            let method = http::Method::from_bytes(m.as_bytes()).unwrap_or_default();
            let res = refused_method(&method).map(|r| r.status());
            assert_eq!(res, Some(StatusCode::METHOD_NOT_ALLOWED), "{m}");
        }
        for m in [
            "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND",
        ] {
            let method = http::Method::from_bytes(m.as_bytes()).unwrap_or_default();
            assert!(refused_method(&method).is_none(), "{m}");
        }
    }
}
