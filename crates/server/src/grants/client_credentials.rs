//! `client_credentials` (RFC 6749 §4.4): a client acting for itself.

use axum::response::Response;

use super::{access_binding, json_response, narrowed_scope, require_grant_type, response_body};
use crate::clients::auth::AuthenticatedRequest;
use crate::{OAuthError, tokens};

/// Issues an access token whose subject is the client.
pub async fn grant(request: &AuthenticatedRequest) -> Result<Response, OAuthError> {
    let (server, form, caller) = (&*request.server, &request.form, &request.caller);
    let client = &caller.client;
    require_grant_type(client, "client_credentials")?;
    let scopes = narrowed_scope(
        form.get("scope"),
        &client.scopes,
        &client.client_id,
        "registered for this client",
    )?
    .unwrap_or_else(|| client.scopes.clone());
    let binding = access_binding(caller)?;
    let grant = tokens::AccessGrant {
        subject: &client.client_id,
        scopes: &scopes,
        binding,
        jti: crate::new_jti(),
        issued_at: crate::now(),
    };
    let issued = tokens::issue(server, client, grant).await?;
    Ok(json_response(response_body(&issued, None)?))
}
