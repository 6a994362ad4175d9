//! Private parsers of untrusted input, exposed for the cargo-fuzz targets
//! in `fuzz/` (feature `fuzzing`; never enabled in a normal build).

use crate::{GuardError, GuardOptions, VerifiedToken};

/// An RFC 7662 introspection response body, read as the guard reads the
/// authorization server's answer (JSON, then the `active` flag, issuer,
/// audience and `cnf` checks against `options`): `Ok(None)` for an inactive
/// token.
pub fn introspection_response(
    body: &[u8],
    options: &GuardOptions,
) -> Result<Option<VerifiedToken>, GuardError> {
    let response: crate::verifier::IntrospectionResponse = serde_json::from_slice(body)
        .map_err(|e| GuardError::Unavailable(format!("not the expected JSON: {e}")))?;
    response.into_verified(options)
}
