//! `/token`: the `client_credentials` grant (RFC 6749 §4.4) with
//! certificate-bound access tokens (RFC 8705 §3).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use certbound_core::ErrorCode;
use certbound_tls::PeerCertificate;
use http::{HeaderMap, HeaderValue, header};
use serde_json::json;

use crate::clients::auth::authenticate;
use crate::clients::parse_scope;
use crate::form::Form;
use crate::{AuthorizationServer, OAuthError, audit, tokens};

const SUPPORTED_GRANTS: &str = "client_credentials";

/// Handles a token request.
pub async fn token(
    State(server): State<Arc<AuthorizationServer>>,
    certificate: Option<PeerCertificate>,
    headers: HeaderMap,
    form: Form,
) -> Result<Response, OAuthError> {
    match form.get("grant_type") {
        None => return Err(OAuthError::invalid_request("grant_type is required")),
        Some("client_credentials") => {}
        Some(other) => {
            return Err(OAuthError::bad_request(
                ErrorCode::UnsupportedGrantType,
                format!(
                    "grant_type '{}' is not supported; this server supports {SUPPORTED_GRANTS}",
                    other.escape_default()
                ),
            ));
        }
    }
    let caller = authenticate(&server, &headers, &form, certificate).await?;
    let client = &caller.client;
    if !client.grant_types.iter().any(|g| g == "client_credentials") {
        audit::token_refused(&client.client_id, "grant type not allowed");
        return Err(OAuthError::bad_request(
            ErrorCode::UnauthorizedClient,
            "this client may not use the client_credentials grant",
        ));
    }
    let scopes = match form.get("scope") {
        None => client.scopes.clone(),
        Some(requested) => {
            let requested = parse_scope(requested)
                .map_err(|e| OAuthError::bad_request(ErrorCode::InvalidScope, e))?;
            if let Some(extra) = requested.iter().find(|s| !client.scopes.contains(s)) {
                audit::token_refused(&client.client_id, "scope not allowed");
                return Err(OAuthError::bad_request(
                    ErrorCode::InvalidScope,
                    format!("scope '{extra}' is not registered for this client"),
                ));
            }
            requested
        }
    };
    let binding = match (&caller.certificate, client.bind_tokens) {
        (Some(cert), true) => Some(cert.thumbprint()),
        _ => None,
    };
    if binding.is_none() && client.require_binding {
        audit::token_refused(&client.client_id, "binding required but no certificate");
        return Err(OAuthError::invalid_request(
            "this client requires certificate-bound tokens: call the mTLS token endpoint with the client certificate",
        ));
    }
    let issued = tokens::issue(&server, client, &scopes, binding).await?;
    let mut body = json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
    });
    if !issued.scope.is_empty() {
        body["scope"] = json!(issued.scope);
    }
    let mut res = Json(body).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(res)
}
