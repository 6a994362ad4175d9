//! The grants the token endpoint serves: `client_credentials` (RFC 6749
//! §4.4), `authorization_code` with PKCE (§4.1, RFC 7636) and
//! `refresh_token` (§6) with certificate-bound, rotating refresh tokens
//! (RFC 8705 §4, RFC 9700 §4.14).

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;
mod sealed;

use std::borrow::Cow;

use axum::body::Body;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use certbound_core::{ErrorCode, Thumbprint};
use certbound_store::{GrantAccessToken, StoredGrant, StoredRefreshToken};
use http::{HeaderValue, header};
use serde::Serialize;

use crate::clients::auth::AuthenticatedClient;
use crate::clients::{RegisteredClient, parse_scope};
use crate::form::Form;
use crate::tokens::{AccessGrant, IssuedToken, token_hash};
use crate::{AuthorizationServer, OAuthError, audit};

/// The RFC 6749 §5.1 success body.
#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "str::is_empty")]
    scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
}

/// The body of a successful token response.
fn response_body(issued: &IssuedToken, refresh_token: Option<&str>) -> Result<Vec<u8>, OAuthError> {
    let answer = TokenResponse {
        access_token: &issued.access_token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        scope: &issued.scope,
        refresh_token,
    };
    // Sized for the token plus the few fixed members: one allocation.
    let extra = refresh_token.map_or(0, str::len);
    let mut body = Vec::with_capacity(issued.access_token.len() + issued.scope.len() + extra + 128);
    serde_json::to_writer(&mut body, &answer).map_err(|e| OAuthError::internal(&e))?;
    Ok(body)
}

/// A JSON token response that no cache may keep (RFC 6749 §5.1).
fn json_response(body: Vec<u8>) -> Response {
    let mut res = Response::new(Body::from(body));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// 400 `invalid_grant`.
fn invalid_grant(description: impl Into<Cow<'static, str>>) -> OAuthError {
    OAuthError::bad_request(ErrorCode::InvalidGrant, description)
}

/// `invalid_grant` with `description`, audited with the real `reason`.
fn refused(client_id: &str, reason: &str, description: impl Into<Cow<'static, str>>) -> OAuthError {
    audit::token_refused(client_id, reason);
    invalid_grant(description)
}

/// Longest code or refresh token we look up; ours are 43 characters.
const MAX_SECRET_LEN: usize = 512;

/// The one credential a grant redeems (a code, a refresh token) and how
/// its refusals read: every one the client may not learn more about gets
/// `invalid`, the audit log the real reason.
struct Credential {
    /// The grant type.
    grant: &'static str,
    /// The form parameter that carries it.
    parameter: &'static str,
    /// What it is called in the audit log.
    what: &'static str,
    /// The `error_description` of an unknown, foreign or otherwise unusable one.
    invalid: &'static str,
}

impl Credential {
    /// The credential, from a client allowed to use the grant: missing is
    /// `invalid_request`, too long to be ours is `invalid_grant` (no lookup
    /// is spent on it).
    fn presented<'f>(
        &self,
        client: &RegisteredClient,
        form: &'f Form,
    ) -> Result<&'f str, OAuthError> {
        require_grant_type(client, self.grant)?;
        let parameter = self.parameter;
        let value = form
            .get(parameter)
            .ok_or_else(|| OAuthError::invalid_request(format!("{parameter} is required")))?;
        if value.len() > MAX_SECRET_LEN {
            return Err(invalid_grant(self.invalid));
        }
        Ok(value)
    }

    /// What the store found for it, if anything and if it was issued to
    /// `client_id` (its `owner`): both refusals read alike.
    fn owned<T>(
        &self,
        found: Option<T>,
        owner: impl FnOnce(&T) -> &str,
        client_id: &str,
    ) -> Result<T, OAuthError> {
        let Some(found) = found else {
            let reason = format!("unknown {}", self.what);
            return Err(refused(client_id, &reason, self.invalid));
        };
        if owner(&found) != client_id {
            let reason = format!("{} of another client", self.what);
            return Err(refused(client_id, &reason, self.invalid));
        }
        Ok(found)
    }
}

/// Refuses tokens for a user who is disabled or removed.
fn require_user_enabled(user_enabled: bool, client_id: &str) -> Result<(), OAuthError> {
    if user_enabled {
        return Ok(());
    }
    Err(refused(
        client_id,
        "user disabled or removed",
        "the user's account is disabled or removed",
    ))
}

/// An access token for a user's grant, with the record that ties it to the
/// grant (its `jti` is chosen before signing, so revoking the grant finds it).
fn grant_access<'a>(
    server: &AuthorizationServer,
    subject: &'a str,
    scopes: &'a [String],
    binding: Option<Thumbprint>,
    now: i64,
) -> (AccessGrant<'a>, GrantAccessToken) {
    let access = AccessGrant {
        subject,
        scopes,
        binding,
        jti: crate::new_jti(),
        issued_at: now,
    };
    let recorded = GrantAccessToken {
        jti: access.jti.clone(),
        expires_at: access.expires_at(server),
    };
    (access, recorded)
}

/// A new refresh token's record under `grant`: it lives the configured
/// lifetime, never past the grant.
fn refresh_record(
    server: &AuthorizationServer,
    token: &str,
    grant: &StoredGrant,
    now: i64,
) -> StoredRefreshToken {
    StoredRefreshToken {
        token_hash: token_hash(token),
        grant_id: grant.grant_id.clone(),
        issued_at: now,
        expires_at: now
            .saturating_add(i64::try_from(server.settings.refresh.ttl).unwrap_or(i64::MAX))
            .min(grant.expires_at),
        rotated_at: None,
        successor_hash: None,
        sealed_response: None,
    }
}

/// A new opaque secret (refresh tokens, grant ids): 256 bits, base64url.
fn new_secret() -> Result<String, OAuthError> {
    Ok(URL_SAFE_NO_PAD.encode(crate::random_bytes::<32>()?))
}

/// Refuses a client that did not register `grant`.
fn require_grant_type(client: &RegisteredClient, grant: &str) -> Result<(), OAuthError> {
    if client.grant_types.iter().any(|g| g == grant) {
        return Ok(());
    }
    audit::token_refused(&client.client_id, "grant type not allowed");
    Err(OAuthError::bad_request(
        ErrorCode::UnauthorizedClient,
        format!("this client may not use the {grant} grant"),
    ))
}

/// The certificate an access token is bound to (RFC 8705 §3): the one on the
/// request, unless the client turned binding off; refused when the client
/// requires binding and there is none.
fn access_binding(caller: &AuthenticatedClient) -> Result<Option<Thumbprint>, OAuthError> {
    let client = &caller.client;
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
    Ok(binding)
}

/// The request's `scope`, which must stay within `allowed`; `None` when absent.
fn narrowed_scope(
    requested: Option<&str>,
    allowed: &[String],
    client_id: &str,
    what: &str,
) -> Result<Option<Vec<String>>, OAuthError> {
    let Some(requested) = requested else {
        return Ok(None);
    };
    let requested = parse_scope(requested)
        .map_err(|e| OAuthError::bad_request(ErrorCode::InvalidScope, e.to_string()))?;
    if let Some(extra) = requested.iter().find(|s| !allowed.contains(s)) {
        audit::token_refused(client_id, "scope not allowed");
        return Err(OAuthError::bad_request(
            ErrorCode::InvalidScope,
            format!("scope '{extra}' is not {what}"),
        ));
    }
    Ok(Some(requested))
}
