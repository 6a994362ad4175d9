//! `refresh_token` (RFC 6749 §6). Public clients' refresh tokens are bound
//! to the certificate they were issued over (RFC 8705 §4) and rotated on
//! every use; a rotated token used again revokes the whole grant (RFC 9700
//! §4.14.2), except within a short grace window in which the same response
//! is returned again, so a lost response does not sign the user out.
//! Confidential clients' refresh tokens are not rotated unless configured.

use axum::response::Response;
use certbound_core::AuthMethod;
use certbound_store::{RefreshTokenGrant, Rotation, StoredGrant, StoredRefreshToken};

use super::{
    Credential, access_binding, grant_access, invalid_grant, json_response, narrowed_scope,
    new_secret, refresh_record, refused, require_user_enabled, response_body, sealed,
};
use crate::clients::auth::AuthenticatedRequest;
use crate::clients::parse_scope;
use crate::tokens::{self, token_hash};
use crate::{AuthorizationServer, OAuthError, audit};

/// What an unknown token, and every token we will not say more about, gets.
const TOKEN_INVALID: &str = "the refresh token is invalid, expired or revoked";

/// The refresh token, as the grant's credential.
const REFRESH_TOKEN: Credential = Credential {
    grant: "refresh_token",
    parameter: "refresh_token",
    what: "refresh token",
    invalid: TOKEN_INVALID,
};

/// Issues a new access token (and, when rotating, a new refresh token).
pub async fn grant(request: &AuthenticatedRequest) -> Result<Response, OAuthError> {
    let (server, form, caller) = (&*request.server, &request.form, &request.caller);
    let client = &caller.client;
    let token = REFRESH_TOKEN.presented(client, form)?;
    let now = server.keys.clock().unix_seconds();
    let hash = token_hash(token);
    let found = server.store.refresh_token_grant(&hash).await?;
    let RefreshTokenGrant {
        token: stored,
        grant,
        user_enabled,
    } = REFRESH_TOKEN.owned(found, |f| &f.grant.client_id, &client.client_id)?;
    if grant.revoked_at.is_some() {
        return Err(refused(
            &client.client_id,
            "refresh token of a revoked grant",
            TOKEN_INVALID,
        ));
    }
    if stored.expires_at <= now || grant.expires_at <= now {
        return Err(refused(
            &client.client_id,
            "refresh token expired",
            "the refresh token has expired",
        ));
    }
    if let Some(bound) = &grant.cnf_x5t_s256 {
        let presented = caller
            .certificate
            .as_ref()
            .map(|c| c.thumbprint().to_string());
        if presented.as_deref() != Some(bound.as_str()) {
            return Err(refused(
                &client.client_id,
                "refresh token bound to another certificate",
                "this refresh token is bound to a client certificate: refresh over mTLS with the certificate it was issued to",
            ));
        }
    }
    // Before the reuse path too: a disabled user's grace response stays sealed.
    require_user_enabled(user_enabled, &client.client_id)?;
    if stored.rotated_at.is_some() {
        return reused(server, &stored, &grant, token, now).await;
    }
    let granted = parse_scope(&grant.scope).map_err(|e| OAuthError::internal(&e))?;
    let scopes = narrowed_scope(
        form.get("scope"),
        &granted,
        &client.client_id,
        "part of the original grant",
    )?
    .unwrap_or(granted);
    let binding = access_binding(caller)?;
    let (access, recorded) = grant_access(server, &grant.user_id, &scopes, binding, now);
    let rotate = client.method == AuthMethod::None || server.settings.refresh.rotate_confidential;
    if !rotate {
        if !server
            .store
            .record_access_token(&grant.grant_id, &recorded)
            .await?
        {
            return Err(invalid_grant(TOKEN_INVALID));
        }
        let issued = tokens::issue(server, client, access).await?;
        audit::refreshed(&client.client_id, &grant.grant_id, false);
        return Ok(json_response(response_body(&issued, None)?));
    }

    let successor = new_secret()?;
    let successor_row = refresh_record(server, &successor, &grant, now);
    // Signed before the rotation commits, so the sealed copy is the very
    // response this request returns.
    let issued = tokens::issue(server, client, access).await?;
    let body = response_body(&issued, Some(&successor))?;
    let sealed_body = if server.settings.refresh.grace_seconds > 0 {
        Some(sealed::seal(token, &grant.grant_id, &body)?)
    } else {
        None
    };
    let rotation = server
        .store
        .rotate_refresh_token(
            &hash,
            now,
            &successor_row,
            sealed_body.as_deref(),
            &recorded,
        )
        .await?;
    match rotation {
        Rotation::Rotated => {
            audit::refreshed(&client.client_id, &grant.grant_id, true);
            Ok(json_response(body))
        }
        Rotation::GrantRevoked => Err(invalid_grant(TOKEN_INVALID)),
        Rotation::AlreadyRotated => {
            // A concurrent request rotated it first: treat this one as a
            // repeat of that token, with its grace window.
            let current = server.store.refresh_token(&hash).await?.unwrap_or(stored);
            reused(server, &current, &grant, token, now).await
        }
    }
}

/// A rotated token presented again: the same response within the grace
/// window while its successor is unused, otherwise the grant is revoked.
async fn reused(
    server: &AuthorizationServer,
    stored: &StoredRefreshToken,
    grant: &StoredGrant,
    token: &str,
    now: i64,
) -> Result<Response, OAuthError> {
    let grace = i64::try_from(server.settings.refresh.grace_seconds).unwrap_or(0);
    let within = stored.rotated_at.is_some_and(|at| now - at <= grace);
    if within
        && let (Some(sealed_body), Some(successor)) =
            (&stored.sealed_response, &stored.successor_hash)
    {
        let successor_unused = server
            .store
            .refresh_token(successor)
            .await?
            .is_some_and(|s| s.rotated_at.is_none());
        if successor_unused && let Some(body) = sealed::open(token, &grant.grant_id, sealed_body) {
            audit::refreshed(&grant.client_id, &grant.grant_id, true);
            return Ok(json_response(body));
        }
    }
    server.store.revoke_grant(&grant.grant_id, now).await?;
    audit::refresh_replayed(&grant.client_id, &grant.grant_id);
    Err(invalid_grant(
        "this refresh token was already used; every token of its grant is now revoked",
    ))
}

/// A refresh token we issued and its grant, for `/introspect` and `/revoke`.
pub async fn find(
    server: &AuthorizationServer,
    token: &str,
) -> Result<Option<RefreshTokenGrant>, OAuthError> {
    // JWTs are access tokens; anything long is not one of ours.
    if token.len() > super::MAX_SECRET_LEN || token.contains('.') {
        return Ok(None);
    }
    server
        .store
        .refresh_token_grant(&token_hash(token))
        .await
        .map_err(Into::into)
}

/// Whether a refresh token can be used now (RFC 7662 `active`).
pub fn is_active(found: &RefreshTokenGrant, now: i64) -> bool {
    let RefreshTokenGrant {
        token: stored,
        grant,
        user_enabled,
    } = found;
    *user_enabled
        && stored.rotated_at.is_none()
        && grant.revoked_at.is_none()
        && stored.expires_at > now
        && grant.expires_at > now
}
