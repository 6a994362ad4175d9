//! `GET`/`POST /authorize` and `/authorize/continue`, where a delegated
//! login app sends the browser back.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, header};

use super::browser::{browser_secret, new_secret, set_cookie};
use super::error::{AuthorizeError, ErrorKind, PageError};
use super::html::error_page;
use super::interaction::{self, InteractionError};
use super::request::{self, MAX_PARAMETER_BYTES};
use super::response::AuthorizationResponse;
use super::{login_step, step_response};
use crate::AuthorizationServer;
use crate::form::{Form, MAX_FORM_BYTES};

/// `GET /authorize`: the request in the query.
pub async fn authorize_get(
    State(server): State<Arc<AuthorizationServer>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    if query.len() > MAX_FORM_BYTES {
        return error_page(&PageError::bad_request(
            ErrorKind::InvalidRequest,
            format!("the request is longer than {MAX_FORM_BYTES} bytes"),
        ));
    }
    authorize(&server, &headers, query.as_bytes()).await
}

/// `POST /authorize`: the request as a form body (RFC 6749 §3.1).
pub async fn authorize_post(
    State(server): State<Arc<AuthorizationServer>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form || body.len() > MAX_FORM_BYTES {
        return error_page(&PageError::bad_request(
            ErrorKind::InvalidRequest,
            "POST /authorize takes an application/x-www-form-urlencoded body of at most 16 KiB",
        ));
    }
    authorize(&server, &headers, &body).await
}

async fn authorize(server: &AuthorizationServer, headers: &HeaderMap, raw: &[u8]) -> Response {
    let (request, _) = match request::validate(server, raw).await {
        Ok(validated) => validated,
        Err(e) => return refusal(server, e),
    };
    // One secret per browser: a second tab reuses the cookie it has.
    let (secret, fresh) = match browser_secret(headers) {
        Some(existing) => (existing, false),
        None => match new_secret() {
            Ok(secret) => (secret, true),
            Err(e) => return error_page(&e.into()),
        },
    };
    let handle = match interaction::start(server, &request, &secret).await {
        Ok(handle) => handle,
        Err(InteractionError::Internal(page)) if page.status.is_server_error() => {
            // The client is known good: it hears about the failure too.
            let kind = if page.kind == ErrorKind::TemporarilyUnavailable {
                ErrorKind::TemporarilyUnavailable
            } else {
                ErrorKind::ServerError
            };
            return AuthorizationResponse::error(&request.target, kind, None)
                .into_http(&server.settings.issuer);
        }
        Err(e) => return error_page(&e.into()),
    };
    let mut res = login_step(server, &handle);
    if fresh && let Some(cookie) = set_cookie(&secret) {
        res.headers_mut().append(header::SET_COOKIE, cookie);
    }
    res
}

/// An error page, or the error sent to the client.
fn refusal(server: &AuthorizationServer, e: AuthorizeError) -> Response {
    match e {
        AuthorizeError::Page(page) => {
            crate::audit::authorization_refused(None, page.kind.as_str(), &page.description);
            error_page(&page)
        }
        AuthorizeError::Redirect {
            target,
            kind,
            description,
        } => {
            crate::audit::authorization_refused(
                Some(&target.redirect_uri),
                kind.as_str(),
                &description,
            );
            AuthorizationResponse::error(&target, kind, Some(description.into_owned()))
                .into_http(&server.settings.issuer)
        }
    }
}

/// `GET /authorize/continue?challenge=…`: the login app is done with a
/// step; carry on in the browser that started the interaction. After a
/// rejection (`error=…`) the error goes to the client.
pub async fn continue_interaction(
    State(server): State<Arc<AuthorizationServer>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let form = match Form::parse(query.as_bytes()) {
        Ok(form) => form,
        Err(e) => {
            return error_page(&PageError::bad_request(
                ErrorKind::InvalidRequest,
                e.description,
            ));
        }
    };
    let Some(handle) = form.get("challenge") else {
        return error_page(&PageError::bad_request(
            ErrorKind::InvalidRequest,
            "challenge is required",
        ));
    };
    let secret = browser_secret(&headers);
    let result = match form.get("error") {
        Some(_) => rejected(&server, handle, secret.as_deref()).await,
        None => {
            async {
                let mut loaded = interaction::load(&server, handle).await?;
                loaded.check_browser(secret.as_deref())?;
                let next = interaction::next(&server, &mut loaded).await?;
                Ok(step_response(&server, &loaded, next))
            }
            .await
        }
    };
    result.unwrap_or_else(|e: InteractionError| error_page(&e.into()))
}

/// Delivers the error of an interaction the login app rejected.
async fn rejected(
    server: &AuthorizationServer,
    handle: &str,
    secret: Option<&str>,
) -> Result<Response, InteractionError> {
    let loaded = interaction::load_any(server, handle).await?;
    loaded.check_browser(secret)?;
    // Only an interaction the login app rejected has an error to deliver,
    // and it is the one stored then: what the URL says is not trusted (an
    // interaction that issued a code has none, whatever the URL says).
    let not_rejected = || {
        InteractionError::Internal(PageError::bad_request(
            ErrorKind::InvalidRequest,
            "this sign-in request has not been rejected",
        ))
    };
    let stored: interaction::Rejection = loaded
        .stored
        .rejection
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .ok_or_else(not_rejected)?;
    let kind = ErrorKind::for_rejection(&stored.error).ok_or_else(not_rejected)?;
    let description = stored.error_description.filter(|d| valid_description(d));
    Ok(
        AuthorizationResponse::error(&loaded.request.target, kind, description)
            .into_http(&server.settings.issuer),
    )
}

/// RFC 6749 §4.1.2.1: `error_description` is printable ASCII without `"`
/// and `\`; we also bound its length.
pub fn valid_description(d: &str) -> bool {
    d.len() <= MAX_PARAMETER_BYTES
        && d.bytes()
            .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e))
}
