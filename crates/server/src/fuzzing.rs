//! Private parsers of untrusted input, exposed for the cargo-fuzz targets
//! in `fuzz/` (feature `fuzzing`; never enabled in a normal build).

use crate::OAuthError;

/// RFC 6749 §2.3.1 HTTP Basic client credentials, as the token,
/// introspection and revocation endpoints read an `Authorization` value:
/// `(client_id, client_secret)`, both percent-decoded.
pub fn parse_basic(value: &[u8]) -> Result<(String, String), OAuthError> {
    crate::clients::auth::parse_basic(value)
}
