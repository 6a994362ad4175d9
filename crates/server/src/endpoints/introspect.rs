//! `/introspect` (RFC 7662): authenticated clients learn whether a token is
//! active and, for bound tokens, its `cnf`. Only the token's own client, a
//! client named in its `aud`, and clients registered with `may_introspect`
//! get the answer (RFC 7662 §4 leaves the policy to the server); anyone else
//! gets `{"active": false}`, so a stolen token cannot be checked by any
//! client of the AS.

use axum::Json;
use serde_json::{Value, json};

use certbound_core::AccessTokenClaims;
use certbound_store::RefreshTokenGrant;

use crate::clients::RegisteredClient;
use crate::clients::auth::ClientRequest;
use crate::grants::refresh_token;
use crate::tokens::{self, Lookup};
use crate::{AuthorizationServer, OAuthError, audit};

/// Handles an introspection request.
pub async fn introspect(request: ClientRequest) -> Result<Json<Value>, OAuthError> {
    let request = request.authenticate_introspector().await?;
    let (server, caller) = (&*request.server, &request.caller);
    let (token, refresh) = super::presented_token(&request).await?;
    if let Some(found) = refresh {
        return Ok(Json(introspect_refresh(server, &caller.client, &found)));
    }
    let body = match tokens::lookup(server, token).await? {
        Lookup::Active(claims, _) if !may_see(&caller.client, &claims) => {
            audit::introspection_refused(
                &caller.client.client_id,
                &claims.jti,
                "the caller is not the token's client, not in its aud, and not registered with may_introspect",
            );
            json!({ "active": false })
        }
        Lookup::Active(claims, _) => {
            audit::introspected(&caller.client.client_id, Some(&claims.jti), true);
            let mut body = json!({
                "active": true,
                "token_type": "Bearer",
                "client_id": claims.client_id,
                "sub": claims.sub,
                "aud": claims.aud,
                "iss": claims.iss,
                "exp": claims.exp,
                "iat": claims.iat,
                "jti": claims.jti,
            });
            if let Some(scope) = claims.scope {
                body["scope"] = json!(scope);
            }
            if let Some(cnf) = claims.cnf {
                body["cnf"] = json!(cnf);
            }
            body
        }
        Lookup::Dead(claims, _) => {
            audit::introspected(&caller.client.client_id, Some(&claims.jti), false);
            json!({ "active": false })
        }
        Lookup::Unknown => {
            audit::introspected(&caller.client.client_id, None, false);
            json!({ "active": false })
        }
    };
    Ok(Json(body))
}

/// The RFC 7662 answer for a refresh token: only its own client, or one
/// registered with `may_introspect`, learns that it is active.
fn introspect_refresh(
    server: &AuthorizationServer,
    caller: &RegisteredClient,
    found: &RefreshTokenGrant,
) -> Value {
    let (stored, grant) = (&found.token, &found.grant);
    let now = server.keys.clock().unix_seconds();
    let visible = caller.may_introspect || grant.client_id == caller.client_id;
    let active = visible && refresh_token::is_active(found, now);
    audit::introspected(&caller.client_id, None, active);
    if !active {
        return json!({ "active": false });
    }
    let mut body = json!({
        "active": true,
        "token_type": "refresh_token",
        "client_id": grant.client_id,
        "sub": grant.user_id,
        "iss": server.settings.issuer,
        "exp": stored.expires_at,
        "iat": stored.issued_at,
        "scope": grant.scope,
    });
    if let Some(x5t) = &grant.cnf_x5t_s256 {
        body["cnf"] = json!({ "x5t#S256": x5t });
    }
    body
}

/// Whether `caller` may learn about an active token with these claims.
fn may_see(caller: &RegisteredClient, claims: &AccessTokenClaims) -> bool {
    caller.may_introspect || claims.client_id == caller.client_id || claims.aud == caller.client_id
}
