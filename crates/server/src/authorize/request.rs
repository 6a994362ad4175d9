//! Validating an authorization request (RFC 6749 §4.1.1, RFC 7636, OAuth
//! 2.0 Form Post): what is checked before the redirect URI is trusted ends
//! on an error page, what is checked after goes back to the client.

use std::borrow::Cow;
use std::sync::Arc;

use certbound_core::CodeChallenge;
use serde::{Deserialize, Serialize};

use super::error::{AuthorizeError, ErrorKind, PageError};
use crate::AuthorizationServer;
use crate::clients::{RegisteredClient, parse_scope};
use crate::form::Form;

/// Longest value of any one parameter: a longer one is refused rather than
/// stored, shown or sent back to the client.
pub const MAX_PARAMETER_BYTES: usize = 2048;

/// The scope that asks for a refresh token (OpenID Connect Core §11).
pub const OFFLINE_ACCESS: &str = "offline_access";

/// How the authorization response reaches the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    /// Parameters in the redirect URI's query (the default for `code`).
    Query,
    /// An auto-submitting HTML form POSTed to the redirect URI.
    FormPost,
}

impl ResponseMode {
    fn parse(value: Option<&str>) -> Option<Self> {
        match value {
            None | Some("query") => Some(Self::Query),
            Some("form_post") => Some(Self::FormPost),
            Some(_) => None,
        }
    }
}

/// Where and how a response (or an error) goes back to the client: known
/// good once the client and its redirect URI are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientTarget {
    /// A redirect URI registered by the client, byte for byte.
    pub redirect_uri: String,
    /// `state` as the client sent it.
    pub state: Option<String>,
    /// How the response is delivered.
    pub response_mode: ResponseMode,
}

/// A validated authorization request, stored as JSON in its interaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    /// The client.
    pub client_id: String,
    /// Where the response goes.
    pub target: ClientTarget,
    /// Whether `redirect_uri` was in the request (RFC 6749 §4.1.3: then the
    /// token request must repeat it).
    pub redirect_uri_given: bool,
    /// Requested scopes (a subset of the client's, plus `offline_access`).
    pub scopes: Vec<String>,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// OpenID Connect `nonce`, kept for the ID token.
    pub nonce: Option<String>,
}

/// Parses and checks an authorization request from a query string or form body.
pub async fn validate(
    server: &AuthorizationServer,
    raw: &[u8],
) -> Result<(AuthorizationRequest, Arc<RegisteredClient>), AuthorizeError> {
    // A repeated or undecodable parameter makes every value suspect,
    // `client_id` and `redirect_uri` included: no redirect.
    let form = Form::parse(raw)
        .map_err(|e| PageError::bad_request(ErrorKind::InvalidRequest, e.description))?;
    if let Some((name, _)) = form
        .params()
        .find(|(_, value)| value.len() > MAX_PARAMETER_BYTES)
    {
        return Err(PageError::bad_request(
            ErrorKind::InvalidRequest,
            format!(
                "parameter '{}' is longer than {MAX_PARAMETER_BYTES} bytes",
                printable(name)
            ),
        )
        .into());
    }
    let client_id = form.get("client_id").ok_or_else(|| {
        PageError::bad_request(ErrorKind::InvalidRequest, "client_id is required")
    })?;
    let client = server
        .client(client_id)
        .await
        .map_err(PageError::from)?
        .ok_or_else(|| {
            PageError::bad_request(
                ErrorKind::InvalidRequest,
                "unknown client_id: no client is registered with this id",
            )
        })?;
    let redirect_uri =
        match (form.get("redirect_uri"), client.redirect_uris.as_slice()) {
            (Some(given), registered) => registered
                .iter()
                .find(|r| r.as_str() == given)
                .ok_or_else(|| {
                    PageError::bad_request(
                        ErrorKind::InvalidRequest,
                        "redirect_uri is not one the client registered (they must match exactly)",
                    )
                })?,
            (None, [only]) => only,
            (None, []) => {
                return Err(PageError::bad_request(
                    ErrorKind::InvalidRequest,
                    "this client has no registered redirect_uri, so it cannot use /authorize",
                )
                .into());
            }
            (None, _) => {
                return Err(PageError::bad_request(
                    ErrorKind::InvalidRequest,
                    "redirect_uri is required: the client registered more than one",
                )
                .into());
            }
        };
    // From here on the client and its redirect URI are known good: errors
    // go back to the client (RFC 6749 §4.1.2.1), in the mode it asked for
    // when that mode is valid.
    let response_mode = ResponseMode::parse(form.get("response_mode"));
    let target = ClientTarget {
        redirect_uri: redirect_uri.as_str().to_owned(),
        state: form.get("state").map(str::to_owned),
        response_mode: response_mode.unwrap_or(ResponseMode::Query),
    };
    let refuse = |kind: ErrorKind, description: Cow<'static, str>| AuthorizeError::Redirect {
        target: target.clone(),
        kind,
        description,
    };
    if !client.grant_types.iter().any(|g| g == "authorization_code") {
        return Err(refuse(
            ErrorKind::UnauthorizedClient,
            "this client may not use the authorization_code grant".into(),
        ));
    }
    match form.get("response_type") {
        Some("code") => {}
        None => {
            return Err(refuse(
                ErrorKind::InvalidRequest,
                "response_type is required".into(),
            ));
        }
        Some(_) => {
            return Err(refuse(
                ErrorKind::UnsupportedResponseType,
                "response_type must be code".into(),
            ));
        }
    }
    if response_mode.is_none() {
        return Err(refuse(
            ErrorKind::InvalidRequest,
            "response_mode must be query or form_post".into(),
        ));
    }
    let challenge = CodeChallenge::from_request(
        form.get("code_challenge"),
        form.get("code_challenge_method"),
    )
    .map_err(|e| refuse(ErrorKind::InvalidRequest, e.to_string().into()))?;
    let scopes = requested_scopes(&client, form.get("scope"))
        .map_err(|description| refuse(ErrorKind::InvalidScope, description.into()))?;
    Ok((
        AuthorizationRequest {
            client_id: client.client_id.clone(),
            target,
            redirect_uri_given: form.get("redirect_uri").is_some(),
            scopes,
            code_challenge: challenge.as_str().to_owned(),
            nonce: form.get("nonce").map(str::to_owned),
        },
        client,
    ))
}

/// The scopes asked for, each registered for the client (or
/// `offline_access` when it may refresh); the client's registered scopes
/// when the request names none.
fn requested_scopes(client: &RegisteredClient, scope: Option<&str>) -> Result<Vec<String>, String> {
    let Some(scope) = scope else {
        return Ok(client.scopes.clone());
    };
    let requested = parse_scope(scope).map_err(|e| e.to_string())?;
    let may_refresh = client.grant_types.iter().any(|g| g == "refresh_token");
    for s in &requested {
        let allowed = client.scopes.contains(s) || (s.as_str() == OFFLINE_ACCESS && may_refresh);
        if !allowed {
            return Err(format!("scope '{s}' is not registered for this client"));
        }
    }
    Ok(requested)
}

/// A parameter name safe to show.
fn printable(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(64)
        .collect()
}
