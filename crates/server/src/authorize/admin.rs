//! The admin API a delegated login app drives interactions with, on the
//! mTLS listener: the app authenticates as a client holding the configured
//! admin scope, and every answer names the certbound URL the browser goes
//! to next, where the browser cookie is checked again.

use std::sync::Arc;

use axum::RequestPartsExt;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, RawQuery};
use axum::response::{IntoResponse, Response};
use certbound_tls::PeerCertificate;
use http::request::Parts;
use http::{StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

use super::endpoint::valid_description;
use super::error::ErrorKind;
use super::interaction::{self, Interaction, InteractionError};
use super::{CONTINUE_PATH, with_challenge};
use crate::clients::auth::{ClientAuthorization, authenticate_confidential};
use crate::form::Form;
use crate::{AuthorizationServer, OAuthError, audit};

/// Largest JSON body the admin API reads.
const MAX_BODY: usize = 16 * 1024;

/// An admin API failure, as JSON.
#[derive(Debug)]
pub struct AdminError {
    status: StatusCode,
    error: &'static str,
    description: String,
    /// `Retry-After` seconds, when a rate limit refused the call.
    retry_after: Option<u64>,
}

impl AdminError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            retry_after: None,
        }
    }
}

impl From<OAuthError> for AdminError {
    fn from(e: OAuthError) -> Self {
        Self {
            retry_after: e.retry_after,
            ..Self::new(e.status, e.code.as_str(), e.description.into_owned())
        }
    }
}

impl From<InteractionError> for AdminError {
    fn from(e: InteractionError) -> Self {
        let (status, error) = match &e {
            InteractionError::Unknown => (StatusCode::NOT_FOUND, "unknown_challenge"),
            InteractionError::Expired => (StatusCode::GONE, "expired"),
            InteractionError::Completed => (StatusCode::CONFLICT, "completed"),
            InteractionError::NotLoggedIn => (StatusCode::CONFLICT, "login_required"),
            InteractionError::ScopeNotRequested(_) => (StatusCode::BAD_REQUEST, "invalid_scope"),
            InteractionError::UnknownUser => (StatusCode::BAD_REQUEST, "unknown_user"),
            InteractionError::WrongBrowser | InteractionError::Csrf => {
                (StatusCode::BAD_REQUEST, "invalid_request")
            }
            InteractionError::Internal(page) => {
                let error = if page.status == StatusCode::SERVICE_UNAVAILABLE {
                    "temporarily_unavailable"
                } else {
                    "server_error"
                };
                (page.status, error)
            }
        };
        Self::new(status, error, e.to_string())
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let mut res = json_response(
            self.status,
            &json!({"error": self.error, "error_description": self.description}),
        );
        if let Some(seconds) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, http::HeaderValue::from(seconds));
        }
        res
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let headers = [
        (header::CONTENT_TYPE, "application/json"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    (status, headers, body.to_string()).into_response()
}

/// What every admin API call names: the interaction's challenge (in the
/// path) and the login app's credentials, checked by [`AdminCall::authenticate`].
pub struct AdminCall {
    server: Arc<AuthorizationServer>,
    challenge: String,
    query: Option<String>,
    authorization: ClientAuthorization,
    certificate: Option<PeerCertificate>,
}

impl FromRequestParts<Arc<AuthorizationServer>> for AdminCall {
    type Rejection = PathRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        server: &Arc<AuthorizationServer>,
    ) -> Result<Self, PathRejection> {
        let Path(challenge) = parts.extract::<Path<String>>().await?;
        let Ok(RawQuery(query)) = parts.extract::<RawQuery>().await;
        let Ok(authorization) = parts.extract::<ClientAuthorization>().await;
        let Ok(certificate) = parts.extract::<Option<PeerCertificate>>().await;
        Ok(Self {
            server: Arc::clone(server),
            challenge,
            query,
            authorization,
            certificate,
        })
    }
}

/// An admin API call whose login app is authenticated.
struct Authenticated {
    server: Arc<AuthorizationServer>,
    challenge: String,
    /// The login app's `client_id`.
    app: String,
}

impl AdminCall {
    /// Authenticates the login app (`client_id` in the query, its certificate
    /// or secret as at the token endpoint) and checks its admin scope.
    async fn authenticate(self) -> Result<Authenticated, AdminError> {
        let server = self.server;
        let form = Form::parse(self.query.as_deref().unwrap_or_default().as_bytes())?;
        let caller =
            authenticate_confidential(&server, &self.authorization, &form, self.certificate)
                .await?;
        // The admin API lives on the mTLS listener: a login app proves itself
        // with its certificate, never with a secret alone (every listener
        // serves these routes, so a secret would work from the public one).
        if !caller.client.method.uses_certificate() {
            audit::admin_refused(&caller.client.client_id, "a certificate method");
            return Err(AdminError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "a login app must authenticate with its client certificate (tls_client_auth or self_signed_tls_client_auth) on the mTLS listener",
            ));
        }
        let scope = &server.front_channel.admin_scope;
        if !caller.client.scopes.iter().any(|s| s == scope) {
            audit::admin_refused(&caller.client.client_id, scope);
            return Err(AdminError::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("the client must be registered with the scope '{scope}'"),
            ));
        }
        let app = caller.client.client_id.clone();
        Ok(Authenticated {
            server,
            challenge: self.challenge,
            app,
        })
    }
}

impl Authenticated {
    /// The answer to a step that moved the interaction on: audited, and the
    /// URL the browser continues at.
    fn stepped(&self, step: &str, interaction: &Interaction) -> Response {
        audit::admin_step(&self.app, step, &interaction.client.client_id);
        redirect_to(continue_url(&self.server, &self.challenge))
    }
}

/// The URL the browser continues at.
fn continue_url(server: &AuthorizationServer, handle: &str) -> String {
    format!(
        "{}{}",
        server.front_channel.base_url,
        with_challenge(CONTINUE_PATH, handle)
    )
}

fn redirect_to(url: String) -> Response {
    json_response(StatusCode::OK, &json!({ "redirect_to": url }))
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, AdminError> {
    if body.len() > MAX_BODY {
        return Err(AdminError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "the body exceeds 16 KiB",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        AdminError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("the body is not the expected JSON: {e}"),
        )
    })
}

/// `GET /admin/interactions/{challenge}`.
pub async fn show(call: AdminCall) -> Result<Response, AdminError> {
    let Authenticated {
        server, challenge, ..
    } = call.authenticate().await?;
    let i = interaction::load(&server, &challenge).await?;
    let user = match &i.stored.user_id {
        Some(id) => server
            .store
            .user(id)
            .await
            .map_err(InteractionError::from)?,
        None => None,
    };
    let user = user.map(|u| {
        json!({
            "user_id": u.user_id,
            "username": u.username,
            "display_name": u.display_name,
            "auth_time": i.stored.auth_time,
        })
    });
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "challenge": challenge,
            "client": {
                "client_id": i.client.client_id,
                "client_name": i.client.metadata.client_name,
                "logo_uri": i.client.metadata.logo_uri,
            },
            "requested_scopes": i.request.scopes,
            "user": user,
            "consented_scopes": i.stored.consented_scope.as_deref().map(|s| {
                s.split(' ').filter(|x| !x.is_empty()).collect::<Vec<_>>()
            }),
            "expires_at": i.stored.expires_at,
        }),
    ))
}

/// The body of `POST …/login`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    username: String,
}

/// `POST /admin/interactions/{challenge}/login`: the app signed the person in.
pub async fn login(call: AdminCall, body: Bytes) -> Result<Response, AdminError> {
    let admin = call.authenticate().await?;
    let LoginBody { username } = parse_body(&body)?;
    let server = &admin.server;
    let mut i: Interaction = interaction::load(server, &admin.challenge).await?;
    let user = server
        .store
        .user_by_username(&crate::users::canonical_username(&username))
        .await
        .map_err(InteractionError::from)?
        .filter(|u| !u.disabled)
        .ok_or(InteractionError::UnknownUser)?;
    let now = server.front_channel.clock.unix_seconds();
    interaction::accept_login(server, &mut i, &user.user_id, now).await?;
    Ok(admin.stepped("login", &i))
}

/// The body of `POST …/consent`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentBody {
    scopes: Vec<String>,
    #[serde(default)]
    remember: bool,
}

/// `POST /admin/interactions/{challenge}/consent`: the person approved `scopes`.
pub async fn consent(call: AdminCall, body: Bytes) -> Result<Response, AdminError> {
    let admin = call.authenticate().await?;
    let ConsentBody { scopes, remember } = parse_body(&body)?;
    let mut i = interaction::load(&admin.server, &admin.challenge).await?;
    interaction::accept_consent(&admin.server, &mut i, &scopes, remember).await?;
    Ok(admin.stepped("consent", &i))
}

/// The body of `POST …/reject`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    #[serde(default = "access_denied")]
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

fn access_denied() -> String {
    ErrorKind::AccessDenied.as_str().to_owned()
}

/// `POST /admin/interactions/{challenge}/reject`: the request is refused;
/// the browser carries the error to the client.
pub async fn reject(call: AdminCall, body: Bytes) -> Result<Response, AdminError> {
    let admin = call.authenticate().await?;
    let RejectBody {
        error,
        error_description,
    } = parse_body(&body)?;
    let kind = ErrorKind::for_rejection(&error).ok_or_else(|| {
        AdminError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "error must be access_denied, login_required, consent_required, interaction_required or temporarily_unavailable",
        )
    })?;
    if error_description
        .as_deref()
        .is_some_and(|d| !valid_description(d))
    {
        return Err(AdminError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "error_description must be printable ASCII without \" or \\, at most 2048 bytes",
        ));
    }
    let i = interaction::load(&admin.server, &admin.challenge).await?;
    interaction::reject(&admin.server, &i, kind, error_description.clone()).await?;
    audit::admin_step(&admin.app, "reject", &i.client.client_id);
    let mut url = continue_url(&admin.server, &admin.challenge);
    let mut extra = form_urlencoded::Serializer::new(String::new());
    extra.append_pair("error", kind.as_str());
    if let Some(d) = &error_description {
        extra.append_pair("error_description", d);
    }
    url.push('&');
    url.push_str(&extra.finish());
    Ok(redirect_to(url))
}
