//! `/introspect` (RFC 7662): authenticated clients learn whether a token is
//! active and, for bound tokens, its `cnf`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use certbound_tls::PeerCertificate;
use serde_json::{Value, json};

use crate::clients::auth::{ClientAuthorization, authenticate};
use crate::form::Form;
use crate::tokens::{self, Lookup};
use crate::{AuthorizationServer, OAuthError, audit};

/// Handles an introspection request.
pub async fn introspect(
    State(server): State<Arc<AuthorizationServer>>,
    certificate: Option<PeerCertificate>,
    authorization: ClientAuthorization,
    form: Form,
) -> Result<Json<Value>, OAuthError> {
    let caller = authenticate(&server, &authorization, &form, certificate).await?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let body = match tokens::lookup(&server, token).await? {
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
