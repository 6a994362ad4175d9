//! `/token`: the `client_credentials` grant (RFC 6749 §4.4) with
//! certificate-bound access tokens (RFC 8705 §3).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use certbound_core::ErrorCode;
use certbound_tls::PeerCertificate;
use http::{HeaderValue, header};
use serde::Serialize;

use crate::clients::auth::{ClientAuthorization, authenticate};
use crate::clients::parse_scope;
use crate::form::Form;
use crate::{AuthorizationServer, OAuthError, audit, tokens};

const SUPPORTED_GRANTS: &str = "client_credentials";

/// Handles a token request.
pub async fn token(
    State(server): State<Arc<AuthorizationServer>>,
    certificate: Option<PeerCertificate>,
    authorization: ClientAuthorization,
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
    let caller = authenticate(&server, &authorization, &form, certificate).await?;
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
                .map_err(|e| OAuthError::bad_request(ErrorCode::InvalidScope, e.to_string()))?;
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
    let answer = TokenResponse {
        access_token: &issued.access_token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        scope: &issued.scope,
    };
    // Sized for the token plus the few fixed members: one allocation.
    let mut body = Vec::with_capacity(issued.access_token.len() + issued.scope.len() + 96);
    serde_json::to_writer(&mut body, &answer).map_err(|e| OAuthError::internal(&e))?;
    let mut res = Response::new(Body::from(body));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(res)
}

/// The RFC 6749 §5.1 success body.
#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "str::is_empty")]
    scope: &'a str,
}
