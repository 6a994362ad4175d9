//! `authorization_code` (RFC 6749 §4.1.3) with PKCE S256 (RFC 7636): one
//! redemption per code, on any number of instances; a second one revokes
//! everything the first issued (RFC 6749 §4.1.2).

use axum::response::Response;
use certbound_core::{AuthMethod, CodeChallenge};
use certbound_store::{CodeRedemption, StoredCode, StoredGrant};

use super::{
    Credential, access_binding, grant_access, invalid_grant, json_response, new_secret,
    refresh_record, refused, require_user_enabled, response_body,
};
use crate::clients::auth::AuthenticatedRequest;
use crate::clients::parse_scope;
use crate::tokens::{self, token_hash};
use crate::{AuthorizationServer, OAuthError, audit};

/// The scope that asks for a refresh token (OpenID Connect Core §11).
pub const OFFLINE_ACCESS: &str = "offline_access";

/// The code, and what an unknown one, and every one we will not say more about, gets.
const CODE: Credential = Credential {
    grant: "authorization_code",
    parameter: "code",
    what: "authorization code",
    invalid: "the authorization code is invalid, expired or already used",
};

/// Redeems a code for an access token and, when granted, a refresh token.
pub async fn grant(request: &AuthenticatedRequest) -> Result<Response, OAuthError> {
    let (server, form, caller) = (&*request.server, &request.form, &request.caller);
    let client = &caller.client;
    let code = CODE.presented(client, form)?;
    let now = server.keys.clock().unix_seconds();
    let code_hash = token_hash(code);
    let found = server.store.code_for_redemption(&code_hash).await?;
    // The owner is checked before anything else: another client must learn
    // nothing, and must not be able to burn the code.
    let CodeRedemption {
        code: stored,
        user_enabled,
    } = CODE.owned(found, |f| &f.code.client_id, &client.client_id)?;
    if stored.redeemed_at.is_some() {
        return Err(replayed(server, &stored, now).await);
    }
    if stored.expires_at <= now {
        return Err(refused(
            &client.client_id,
            "authorization code expired",
            "the authorization code has expired",
        ));
    }
    // RFC 6749 §4.1.3: repeated exactly when the authorization request had
    // it; when it was implied (one registered URI) it may be left out.
    match form.get("redirect_uri") {
        Some(given) if given != stored.redirect_uri => {
            return Err(refused(
                &client.client_id,
                "redirect_uri mismatch",
                "redirect_uri does not match the one in the authorization request",
            ));
        }
        None if stored.redirect_uri_given => {
            return Err(refused(
                &client.client_id,
                "redirect_uri missing",
                "redirect_uri is required: the authorization request included it",
            ));
        }
        _ => {}
    }
    let challenge = CodeChallenge::from_stored(&stored.code_challenge)
        .map_err(|e| OAuthError::internal(&format!("stored code_challenge: {e}")))?;
    if let Err(e) = challenge.verify(form.get("code_verifier")) {
        return Err(refused(
            &client.client_id,
            "PKCE verification failed",
            e.to_string(),
        ));
    }
    require_user_enabled(user_enabled, &client.client_id)?;
    let scopes = parse_scope(&stored.scope).map_err(|e| OAuthError::internal(&e))?;
    let binding = access_binding(caller)?;
    let settings = &server.settings;
    let asked_refresh = client.grant_types.iter().any(|g| g == "refresh_token")
        && (scopes.iter().any(|s| s == OFFLINE_ACCESS)
            || client.metadata.always_issue_refresh_token);
    // A public client's refresh token is only as safe as its binding: with
    // no certificate to bind it to, none is issued unless configured.
    let unbindable = client.method == AuthMethod::None
        && caller.certificate.is_none()
        && settings.refresh.bind_public_clients;
    if asked_refresh && unbindable {
        audit::token_refused(
            &client.client_id,
            "no refresh token: a public client redeemed the code without a certificate to bind it to",
        );
    }
    let wants_refresh = asked_refresh && !unbindable;
    let grant = StoredGrant {
        grant_id: new_secret()?,
        client_id: client.client_id.clone(),
        user_id: stored.user_id.clone(),
        scope: stored.scope.clone(),
        // RFC 8705 §4: a public client's refresh tokens are bound to the
        // certificate it redeemed the code with.
        cnf_x5t_s256: match (client.method, &caller.certificate) {
            (AuthMethod::None, Some(cert)) => Some(cert.thumbprint().to_string()),
            _ => None,
        },
        auth_time: stored.auth_time,
        created_at: now,
        expires_at: now.saturating_add(if wants_refresh {
            i64::try_from(settings.refresh.max_ttl).unwrap_or(i64::MAX)
        } else {
            settings.access_token_ttl
        }),
        used_at: now,
        revoked_at: None,
    };
    let (access, recorded) = grant_access(server, &stored.user_id, &scopes, binding, now);
    let refresh_token = if wants_refresh {
        Some(new_secret()?)
    } else {
        None
    };
    let refresh_row = refresh_token
        .as_deref()
        .map(|token| refresh_record(server, token, &grant, now));
    let won = server
        .store
        .redeem_code(&code_hash, now, &grant, &recorded, refresh_row.as_ref())
        .await?;
    if !won {
        // Another redemption committed first: this one is a replay.
        let current = server.store.code(&code_hash).await?.unwrap_or(stored);
        return Err(replayed(server, &current, now).await);
    }
    let issued = tokens::issue(server, client, access).await?;
    audit::code_redeemed(&client.client_id, &grant.grant_id, refresh_token.is_some());
    Ok(json_response(response_body(
        &issued,
        refresh_token.as_deref(),
    )?))
}

/// A second redemption: revoke what the first one issued, then refuse.
async fn replayed(server: &AuthorizationServer, code: &StoredCode, now: i64) -> OAuthError {
    if let Some(grant_id) = &code.grant_id {
        match server.store.revoke_grant(grant_id, now).await {
            Ok(_) => audit::code_replayed(&code.client_id, grant_id),
            Err(e) => return e.into(),
        }
    }
    invalid_grant("the authorization code was already used; the tokens issued for it are revoked")
}
