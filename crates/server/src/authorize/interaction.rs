//! The interaction core: an authorization request between `/authorize` and
//! its code, driven through login and consent by the built-in pages or by a
//! delegated login app, with the same operations and the same checks.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use certbound_store::{StoredCode, StoredInteraction};

use super::browser::{csrf_token, hash_matches, new_secret};
use super::error::{ErrorKind, PageError};
use super::request::AuthorizationRequest;
use super::response::AuthorizationResponse;
use crate::clients::RegisteredClient;
use crate::tokens::token_hash;
use crate::{AuthorizationServer, audit};

/// How long a person has to sign in and decide.
pub const INTERACTION_TTL: i64 = 600;

/// How long an authorization code may be redeemed.
pub const CODE_TTL: i64 = 60;

/// The error a rejected interaction ends with, stored with it so that the
/// browser carries back exactly what the login app decided, once it ended.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Rejection {
    /// An RFC 6749 §4.1.2.1 error code (checked when rejecting).
    pub error: String,
    /// Its description, if the app gave one (checked when rejecting).
    pub error_description: Option<String>,
}

/// Why an interaction cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum InteractionError {
    /// No interaction has this handle.
    #[error("this sign-in request is unknown; start again from the application")]
    Unknown,
    /// It is older than [`INTERACTION_TTL`].
    #[error("this sign-in request has expired; start again from the application")]
    Expired,
    /// It already ended (code issued or request refused).
    #[error("this sign-in request has already been completed; start again from the application")]
    Completed,
    /// The request does not come from the browser that started it.
    #[error(
        "this sign-in request was started in another browser; start again from the application in this one"
    )]
    WrongBrowser,
    /// The form's CSRF token is missing or wrong.
    #[error(
        "the form is missing its security token or the token is wrong; reload the page and try again"
    )]
    Csrf,
    /// A step that needs a signed-in user came first.
    #[error("nobody has signed in to this request yet")]
    NotLoggedIn,
    /// Consent named a scope the client did not ask for.
    #[error("scope '{0}' was not requested by the client")]
    ScopeNotRequested(String),
    /// The user is unknown or disabled (delegated login).
    #[error("no enabled user has this username")]
    UnknownUser,
    /// Storage or another internal step failed.
    #[error(transparent)]
    Internal(#[from] PageError),
}

impl From<certbound_store::StoreError> for InteractionError {
    fn from(e: certbound_store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<crate::ServerError> for InteractionError {
    fn from(e: crate::ServerError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<InteractionError> for PageError {
    fn from(e: InteractionError) -> Self {
        match e {
            InteractionError::Internal(page) => page,
            other => PageError::bad_request(ErrorKind::InvalidRequest, other.to_string()),
        }
    }
}

/// A loaded interaction with its request and client.
#[derive(Debug, Clone)]
pub struct Interaction {
    /// The handle (`challenge`) the browser and the login app know it by.
    pub handle: String,
    /// The stored record.
    pub stored: StoredInteraction,
    /// The validated authorization request.
    pub request: AuthorizationRequest,
    /// The client that asked.
    pub client: Arc<RegisteredClient>,
}

impl Interaction {
    /// The name consent shows: `client_name`, else the `client_id`.
    pub fn client_name(&self) -> &str {
        self.client
            .metadata
            .client_name
            .as_deref()
            .unwrap_or(&self.client.client_id)
    }

    /// Checks the request carries the browser cookie that started it.
    pub fn check_browser(&self, browser_secret: Option<&str>) -> Result<(), InteractionError> {
        match browser_secret {
            Some(secret) if hash_matches(secret, &self.stored.browser_hash) => Ok(()),
            _ => Err(InteractionError::WrongBrowser),
        }
    }

    /// The CSRF token of this interaction's forms in the browser with `secret`.
    pub fn csrf_token(&self, browser_secret: &str) -> String {
        csrf_token(browser_secret, &self.handle)
    }

    /// Checks a submitted CSRF token against the stored hash (constant time).
    pub fn check_csrf(&self, presented: Option<&str>) -> Result<(), InteractionError> {
        match presented {
            Some(token) if hash_matches(token, &self.stored.csrf_hash) => Ok(()),
            _ => Err(InteractionError::Csrf),
        }
    }
}

/// What an interaction needs next.
#[derive(Debug)]
pub enum Next {
    /// Somebody has to sign in.
    Login,
    /// The signed-in user has to decide.
    Consent,
    /// Done: send this to the client.
    Respond(AuthorizationResponse),
}

/// The current time, from the server's clock.
fn now(server: &AuthorizationServer) -> i64 {
    server.front_channel.clock.unix_seconds()
}

/// Records a validated request; returns its handle. `browser_secret` is
/// the secret of the browser that asked (the caller sets the cookie).
pub async fn start(
    server: &AuthorizationServer,
    request: &AuthorizationRequest,
    browser_secret: &str,
) -> Result<String, InteractionError> {
    let handle = new_secret()?;
    let request_json = serde_json::to_string(request)
        .map_err(|e| InteractionError::Internal(PageError::internal(&e)))?;
    let now = now(server);
    server
        .store
        .create_interaction(&StoredInteraction {
            interaction_hash: token_hash(&handle),
            client_id: request.client_id.clone(),
            request: request_json,
            browser_hash: token_hash(browser_secret),
            csrf_hash: token_hash(&csrf_token(browser_secret, &handle)),
            user_id: None,
            auth_time: None,
            consented_scope: None,
            created_at: now,
            expires_at: now + INTERACTION_TTL,
            completed_at: None,
            rejection: None,
        })
        .await?;
    audit::interaction_started(&request.client_id, &request.scopes.join(" "));
    Ok(handle)
}

/// Loads a live interaction: known, unexpired and not completed.
pub async fn load(
    server: &AuthorizationServer,
    handle: &str,
) -> Result<Interaction, InteractionError> {
    let interaction = load_any(server, handle).await?;
    if interaction.stored.completed_at.is_some() {
        return Err(InteractionError::Completed);
    }
    Ok(interaction)
}

/// Loads an unexpired interaction, completed or not.
pub async fn load_any(
    server: &AuthorizationServer,
    handle: &str,
) -> Result<Interaction, InteractionError> {
    // A handle is 43 base64url characters; anything else is not one of ours.
    if handle.len() != 43 {
        return Err(InteractionError::Unknown);
    }
    let stored = server
        .store
        .interaction(&token_hash(handle))
        .await?
        .ok_or(InteractionError::Unknown)?;
    if stored.expires_at <= now(server) {
        return Err(InteractionError::Expired);
    }
    let corrupt = |why: String| {
        InteractionError::Internal(PageError::internal(&format!(
            "interaction of client {}: {why}",
            stored.client_id
        )))
    };
    let request: AuthorizationRequest =
        serde_json::from_str(&stored.request).map_err(|e| corrupt(e.to_string()))?;
    let client = server
        .client(&stored.client_id)
        .await
        .map_err(|e| InteractionError::Internal(e.into()))?
        // The client was removed while its user was signing in.
        .ok_or(InteractionError::Unknown)?;
    Ok(Interaction {
        handle: handle.to_owned(),
        stored,
        request,
        client,
    })
}

/// Records that `user_id` signed in at `auth_time`.
pub async fn accept_login(
    server: &AuthorizationServer,
    interaction: &mut Interaction,
    user_id: &str,
    auth_time: i64,
) -> Result<(), InteractionError> {
    let hash = &interaction.stored.interaction_hash;
    if !server.store.accept_login(hash, user_id, auth_time).await? {
        return Err(InteractionError::Completed);
    }
    interaction.stored.user_id = Some(user_id.to_owned());
    interaction.stored.auth_time = Some(auth_time);
    interaction.stored.consented_scope = None;
    audit::interaction_login(&interaction.client.client_id, user_id);
    Ok(())
}

/// Records the user's approval of `scopes` (each one the client asked
/// for), remembering it for next time when `remember`.
pub async fn accept_consent(
    server: &AuthorizationServer,
    interaction: &mut Interaction,
    scopes: &[String],
    remember: bool,
) -> Result<(), InteractionError> {
    let user_id = interaction
        .stored
        .user_id
        .clone()
        .ok_or(InteractionError::NotLoggedIn)?;
    if let Some(extra) = scopes
        .iter()
        .find(|s| !interaction.request.scopes.contains(s))
    {
        return Err(InteractionError::ScopeNotRequested(extra.clone()));
    }
    let scope = scopes.join(" ");
    let client_id = interaction.client.client_id.clone();
    if remember {
        // Remembered consent grows: what was approved before stays approved.
        let mut all: Vec<String> = match server.store.consent(&user_id, &client_id).await? {
            Some(before) => before.split(' ').map(str::to_owned).collect(),
            None => Vec::new(),
        };
        for s in scopes {
            if !all.contains(s) {
                all.push(s.clone());
            }
        }
        all.retain(|s| !s.is_empty());
        server
            .store
            .save_consent(&user_id, &client_id, &all.join(" "), now(server))
            .await?;
    }
    if !server
        .store
        .accept_consent(&interaction.stored.interaction_hash, &scope)
        .await?
    {
        return Err(InteractionError::Completed);
    }
    interaction.stored.consented_scope = Some(scope.clone());
    audit::consent_granted(&client_id, &user_id, &scope, remember);
    Ok(())
}

/// Ends the interaction without a code; the error goes to the client.
pub async fn reject(
    server: &AuthorizationServer,
    interaction: &Interaction,
    kind: ErrorKind,
    description: Option<String>,
) -> Result<AuthorizationResponse, InteractionError> {
    let rejection = Rejection {
        error: kind.as_str().to_owned(),
        error_description: description.clone(),
    };
    let rejection = serde_json::to_string(&rejection)
        .map_err(|e| InteractionError::Internal(PageError::internal(&e)))?;
    let completed = server
        .store
        .reject_interaction(
            &interaction.stored.interaction_hash,
            now(server),
            &rejection,
        )
        .await?;
    if !completed {
        return Err(InteractionError::Completed);
    }
    audit::interaction_rejected(
        &interaction.client.client_id,
        interaction.stored.user_id.as_deref(),
        kind.as_str(),
    );
    Ok(AuthorizationResponse::error(
        &interaction.request.target,
        kind,
        description,
    ))
}

/// What comes next; when login and consent are done (or remembered
/// consent covers the request) this issues the code.
pub async fn next(
    server: &AuthorizationServer,
    interaction: &mut Interaction,
) -> Result<Next, InteractionError> {
    let Some(user_id) = interaction.stored.user_id.clone() else {
        return Ok(Next::Login);
    };
    if interaction.stored.consented_scope.is_none() {
        let remembered = server
            .store
            .consent(&user_id, &interaction.client.client_id)
            .await?;
        let covered = remembered.is_some_and(|r| {
            let r: Vec<&str> = r.split(' ').collect();
            interaction
                .request
                .scopes
                .iter()
                .all(|s| r.contains(&s.as_str()))
        });
        if !covered {
            return Ok(Next::Consent);
        }
        let scopes = interaction.request.scopes.clone();
        accept_consent(server, interaction, &scopes, false).await?;
    }
    finish(server, interaction).await.map(Next::Respond)
}

/// Issues the code and completes the interaction in one transaction: a
/// second attempt (a replayed form) finds it completed and gets no code.
async fn finish(
    server: &AuthorizationServer,
    interaction: &Interaction,
) -> Result<AuthorizationResponse, InteractionError> {
    let s = &interaction.stored;
    let (Some(user_id), Some(auth_time), Some(scope)) =
        (&s.user_id, s.auth_time, &s.consented_scope)
    else {
        return Err(InteractionError::NotLoggedIn);
    };
    let code = URL_SAFE_NO_PAD.encode(crate::random_bytes::<32>()?);
    let now = now(server);
    let stored = StoredCode {
        code_hash: token_hash(&code),
        client_id: interaction.client.client_id.clone(),
        user_id: user_id.clone(),
        redirect_uri: interaction.request.target.redirect_uri.clone(),
        redirect_uri_given: interaction.request.redirect_uri_given,
        scope: scope.clone(),
        code_challenge: interaction.request.code_challenge.clone(),
        nonce: interaction.request.nonce.clone(),
        auth_time,
        created_at: now,
        expires_at: now + CODE_TTL,
        redeemed_at: None,
        grant_id: None,
    };
    if !server
        .store
        .complete_interaction(&s.interaction_hash, now, Some(&stored))
        .await?
    {
        return Err(InteractionError::Completed);
    }
    audit::code_issued(&interaction.client.client_id, user_id, scope);
    Ok(AuthorizationResponse::code(
        &interaction.request.target,
        code,
    ))
}
