//! `/revoke` (RFC 7009): a client revokes a token issued to it.

use http::StatusCode;

use crate::clients::auth::ClientRequest;
use crate::tokens::{self, Lookup};
use crate::{OAuthError, audit};

/// Handles a revocation request: 200 for unknown tokens and for other
/// clients' tokens too, which stay valid (RFC 7009 §2.2).
pub async fn revoke(request: ClientRequest) -> Result<StatusCode, OAuthError> {
    let request = request.authenticate().await?;
    let (server, caller) = (&*request.server, &request.caller);
    let (token, refresh) = super::presented_token(&request).await?;
    if let Some(found) = refresh {
        let grant = found.grant;
        // RFC 7009 §2.1: revoking a refresh token revokes its grant and the
        // access tokens issued under it; another client's gets the same 200.
        let revoked = grant.client_id == caller.client.client_id
            && server
                .store
                .revoke_grant(&grant.grant_id, server.keys.clock().unix_seconds())
                .await?;
        audit::grant_revoked(&caller.client.client_id, &grant.grant_id, revoked);
        return Ok(StatusCode::OK);
    }
    let (claims, format) = match tokens::lookup(server, token).await? {
        Lookup::Active(c, f) | Lookup::Dead(c, f) => (c, f),
        Lookup::Unknown => {
            audit::revoked(&caller.client.client_id, None, false);
            return Ok(StatusCode::OK);
        }
    };
    if claims.client_id != caller.client.client_id {
        // Another client's token: the same 200 as for an unknown one, so the
        // answer does not confirm that the token exists (RFC 7009 §2.2).
        audit::revocation_refused(&caller.client.client_id, &claims.jti, &claims.client_id);
        return Ok(StatusCode::OK);
    }
    let changed = tokens::revoke(server, token, &claims, format).await?;
    audit::revoked(&caller.client.client_id, Some(&claims.jti), changed);
    Ok(StatusCode::OK)
}
