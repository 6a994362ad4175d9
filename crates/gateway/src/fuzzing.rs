//! Private parsers of untrusted input, exposed for the cargo-fuzz targets
//! in `fuzz/` (feature `fuzzing`; never enabled in a normal build).

use std::borrow::Cow;

/// The canonical form of a request path as the gateway routes on it, or
/// the `error_description` of its refusal (the refusal table of
/// `docs/gateway.md`).
pub fn normalize_path(raw: &str) -> Result<Cow<'_, str>, &'static str> {
    crate::routes::normalize_path(raw).map_err(|refusal| refusal.description())
}
