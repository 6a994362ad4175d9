//! The built-in login and consent pages: server-rendered, no JavaScript,
//! a CSRF token on every form, a 303 after every POST. They drive the same
//! interaction core as a delegated login app.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::response::{IntoResponse, Response};
use certbound_tls::CallerAddress;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::backoff::BackoffKey;
use super::browser::browser_secret;
use super::error::{ErrorKind, PageError};
use super::html::{self, ConsentPage, InteractionForm, LoginPage, Policy, WaitPage};
use super::interaction::{self, Interaction, InteractionError, Next};
use super::{LOGIN_PATH, step_response, with_challenge};
use crate::form::{Form, MAX_FORM_BYTES};
use crate::rate_limit::SourceAddress;
use crate::users::{LoginCheck, LoginRefusal, check_login};
use crate::{AuthorizationServer, audit};

/// `GET /assets/certbound.css`.
pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        html::STYLESHEET,
    )
}

/// A browser step's parsed input: the form or query, and the interaction
/// it names, checked against the browser's cookie.
pub struct Step {
    form: Form,
    interaction: Interaction,
    secret: String,
}

/// A page's `GET`: the step its query names.
pub struct Shown(Step);

impl FromRequestParts<Arc<AuthorizationServer>> for Shown {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        server: &Arc<AuthorizationServer>,
    ) -> Result<Self, PageError> {
        let query = parts.uri.query().unwrap_or_default();
        step(server, &parts.headers, query.as_bytes(), false)
            .await
            .map(Shown)
    }
}

/// A page's form `POST`: the step its body names, CSRF token checked.
pub struct Submitted(Step);

impl FromRequest<Arc<AuthorizationServer>> for Submitted {
    type Rejection = Response;

    async fn from_request(
        req: Request,
        server: &Arc<AuthorizationServer>,
    ) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, server)
            .await
            .map_err(IntoResponse::into_response)?;
        step(server, &headers, &body, true)
            .await
            .map(Submitted)
            .map_err(IntoResponse::into_response)
    }
}

/// Loads the interaction `form` names and checks the browser; with
/// `check_csrf`, the form's token too.
async fn step(
    server: &AuthorizationServer,
    headers: &HeaderMap,
    raw: &[u8],
    check_csrf: bool,
) -> Result<Step, PageError> {
    if server.front_channel.login_url.is_some() {
        // The login app signs people in; these pages must not be a way round it.
        return Err(PageError {
            status: StatusCode::NOT_FOUND,
            kind: ErrorKind::InvalidRequest,
            description: "sign-in happens at the configured login app, not here".into(),
        });
    }
    if raw.len() > MAX_FORM_BYTES {
        return Err(PageError::bad_request(
            ErrorKind::InvalidRequest,
            "the form is too large",
        ));
    }
    let form = Form::parse(raw)
        .map_err(|e| PageError::bad_request(ErrorKind::InvalidRequest, e.description))?;
    let handle = form.get("challenge").ok_or_else(|| {
        PageError::bad_request(ErrorKind::InvalidRequest, "challenge is required")
    })?;
    let interaction = interaction::load(server, handle).await?;
    let secret = browser_secret(headers);
    interaction.check_browser(secret.as_deref())?;
    if check_csrf {
        interaction.check_csrf(form.get("csrf_token"))?;
    }
    Ok(Step {
        form,
        interaction,
        secret: secret.unwrap_or_default(),
    })
}

/// The policy of a page of `interaction`: its forms may end in a redirect
/// to the client.
fn policy_origin(interaction: &Interaction) -> Option<String> {
    html::csp_origin(&interaction.request.target.redirect_uri)
}

/// `GET /authorize/login?challenge=…`.
pub async fn login_page(
    State(server): State<Arc<AuthorizationServer>>,
    Shown(Step {
        form,
        mut interaction,
        secret,
    }): Shown,
) -> Result<Response, PageError> {
    if interaction.stored.user_id.is_some() {
        // Already signed in (back button): carry on.
        let next = interaction::next(&server, &mut interaction).await?;
        return Ok(step_response(&server, &interaction, next));
    }
    let csrf = interaction.csrf_token(&secret);
    Ok(form_page(
        &interaction,
        &LoginPage {
            form: interaction_form(&interaction, &csrf),
            failed: form.get("failed").is_some(),
        },
    ))
}

/// What the interaction's forms carry and say.
fn interaction_form<'a>(interaction: &'a Interaction, csrf: &'a str) -> InteractionForm<'a> {
    InteractionForm {
        challenge: &interaction.handle,
        csrf,
        client_name: interaction.client_name(),
    }
}

/// A page with this interaction's forms, its CSP allowing them.
fn form_page(interaction: &Interaction, page: &impl askama::Template) -> Response {
    let origin = policy_origin(interaction);
    html::render(
        StatusCode::OK,
        page,
        Policy {
            form_origin: origin.as_deref(),
            form_post_script: false,
        },
    )
}

/// `POST /authorize/login`.
pub async fn login_submit(
    State(server): State<Arc<AuthorizationServer>>,
    CallerAddress(address): CallerAddress,
    Submitted(Step {
        form,
        mut interaction,
        ..
    }): Submitted,
) -> Result<Response, PageError> {
    let username = form.get("username").unwrap_or_default();
    let password = form.get("password").unwrap_or_default();
    let client_id = interaction.client.client_id.clone();
    // Behind a trusted proxy that does not report the client's address,
    // every request has the proxy's, which would lock everyone out at
    // once: count usernames only.
    let source = address.map(SourceAddress::of);
    if let Err(throttled) = server.rate_limits.admit_address(source) {
        return Ok(too_many_attempts(throttled.retry_after));
    }
    let mut keys = vec![BackoffKey::username(username)];
    keys.extend(address.map(BackoffKey::Address));
    let backoff = &server.front_channel.backoff;
    if let Err(wait) = backoff.begin(&keys) {
        audit::login_throttled(&client_id, username, address, wait.as_secs());
        return Ok(too_many_attempts(wait.as_secs().max(1)));
    }
    match check_login(server.store.as_ref(), username, password).await? {
        LoginCheck::Accepted(user) => {
            backoff.succeeded(&keys);
            let now = server.front_channel.clock.unix_seconds();
            interaction::accept_login(&server, &mut interaction, &user.user_id, now).await?;
            let next = interaction::next(&server, &mut interaction).await?;
            Ok(step_response(&server, &interaction, next))
        }
        LoginCheck::Refused(refusal) => {
            let reason = match refusal {
                LoginRefusal::UnknownUser => "unknown user",
                LoginRefusal::WrongPassword => "wrong password",
                LoginRefusal::Disabled => "user disabled",
            };
            // Already counted by `begin`; the rate limit charges more.
            server.rate_limits.failed(source);
            audit::login_failed(&client_id, username, address, reason);
            let again = with_challenge(LOGIN_PATH, &interaction.handle);
            Ok(html::see_other(&format!("{again}&failed=1")))
        }
    }
}

/// The 429 page with `Retry-After`.
fn too_many_attempts(seconds: u64) -> Response {
    let mut res = html::render(
        StatusCode::TOO_MANY_REQUESTS,
        &WaitPage { seconds },
        Policy::default(),
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    res
}

/// `GET /authorize/consent?challenge=…`.
pub async fn consent_page(
    State(server): State<Arc<AuthorizationServer>>,
    Shown(Step {
        interaction,
        secret,
        ..
    }): Shown,
) -> Result<Response, PageError> {
    let Some(user_id) = interaction.stored.user_id.as_deref() else {
        return Ok(html::see_other(&with_challenge(
            LOGIN_PATH,
            &interaction.handle,
        )));
    };
    let user = server.store.user(user_id).await?;
    let user_name = user
        .as_ref()
        .map(|u| u.display_name.clone().unwrap_or_else(|| u.username.clone()))
        .ok_or(InteractionError::NotLoggedIn)?;
    let csrf = interaction.csrf_token(&secret);
    Ok(form_page(
        &interaction,
        &ConsentPage {
            form: interaction_form(&interaction, &csrf),
            logo_uri: interaction.client.metadata.logo_uri.as_deref(),
            scopes: &interaction.request.scopes,
            user_name: &user_name,
        },
    ))
}

/// `POST /authorize/consent`: Allow or Deny.
pub async fn consent_submit(
    State(server): State<Arc<AuthorizationServer>>,
    Submitted(Step {
        form,
        mut interaction,
        ..
    }): Submitted,
) -> Result<Response, PageError> {
    if interaction.stored.user_id.is_none() {
        return Err(InteractionError::NotLoggedIn.into());
    }
    match form.get("decision") {
        Some("allow") => {
            let scopes = interaction.request.scopes.clone();
            let remember = form.get("remember").is_some();
            interaction::accept_consent(&server, &mut interaction, &scopes, remember).await?;
            let next = interaction::next(&server, &mut interaction).await?;
            Ok(step_response(&server, &interaction, next))
        }
        Some("deny") => {
            let response = interaction::reject(
                &server,
                &interaction,
                ErrorKind::AccessDenied,
                Some("the user denied the request".into()),
            )
            .await?;
            Ok(step_response(
                &server,
                &interaction,
                Next::Respond(response),
            ))
        }
        _ => Err(PageError::bad_request(
            ErrorKind::InvalidRequest,
            "decision must be allow or deny",
        )),
    }
}
