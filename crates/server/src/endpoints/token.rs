//! `/token`: authenticates the client, then hands the request to its grant
//! (`crate::grants`); every access token is certificate-bound when the
//! request came with a certificate (RFC 8705 §3).

use axum::response::Response;
use certbound_core::ErrorCode;

use crate::OAuthError;
use crate::clients::auth::ClientRequest;
use crate::grants::{authorization_code, client_credentials, refresh_token};

const SUPPORTED_GRANTS: &str = "authorization_code, refresh_token and client_credentials";

/// Which grant a token request is for.
#[derive(Clone, Copy)]
enum Grant {
    ClientCredentials,
    AuthorizationCode,
    RefreshToken,
}

/// Handles a token request.
pub async fn token(request: ClientRequest) -> Result<Response, OAuthError> {
    // The grant type is checked before the client, so an unsupported one
    // costs no client lookup.
    let grant = match request.form.get("grant_type") {
        None => return Err(OAuthError::invalid_request("grant_type is required")),
        Some("client_credentials") => Grant::ClientCredentials,
        Some("authorization_code") => Grant::AuthorizationCode,
        Some("refresh_token") => Grant::RefreshToken,
        Some(other) => {
            return Err(OAuthError::bad_request(
                ErrorCode::UnsupportedGrantType,
                format!(
                    "grant_type '{}' is not supported; this server supports {SUPPORTED_GRANTS}",
                    other.escape_default()
                ),
            ));
        }
    };
    let request = request.authenticate().await?;
    match grant {
        Grant::ClientCredentials => client_credentials::grant(&request).await,
        Grant::AuthorizationCode => authorization_code::grant(&request).await,
        Grant::RefreshToken => refresh_token::grant(&request).await,
    }
}
