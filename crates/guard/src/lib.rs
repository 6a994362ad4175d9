//! Verifying a presented access token and its certificate binding, the same
//! way in the gateway and in anyone's Rust resource server:
//!
//! - JWT access tokens (RFC 9068) against the authorization server's JWKS,
//!   discovered from its metadata, cached, refetched on an unknown `kid` at
//!   most once per few seconds, last good keys kept while it is down;
//! - opaque tokens through RFC 7662 introspection with a short cache;
//! - revoked JWTs refused within a poll interval, from the authorization
//!   server's incremental revocation list (certbound extension);
//! - RFC 8705 §3 binding: `cnf.x5t#S256` must equal the thumbprint of the
//!   certificate on this request's connection;
//! - `aud` always checked ([`GuardOptions::new`] takes the audience) and,
//!   by default, only certificate-bound tokens accepted, as at the gateway;
//! - RFC 6750 errors: 401 `invalid_token`, 403 `insufficient_scope`; 503
//!   with `Retry-After` and a generic description when the authorization
//!   server cannot be reached (also for a `kid` the keys could not be
//!   refreshed for).
//!
//! JWT checks go through `certbound-jose` ([`certbound_jose::JwtVerifier`]
//! and its key-set cache), the same verifier the authorization server uses
//! for its own tokens; refusals are data ([`InvalidToken`]).
//!
//! Use [`Guard::verify`] directly, or [`GuardLayer`] plus the [`BoundClient`]
//! extractor in an axum app.

mod bearer;
mod error;
mod fetch;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod identity;
mod introspection;
mod jwks;
mod layer;
mod revocation;
mod verified;
mod verifier;

pub use bearer::bearer_token;
pub use error::{GuardError, InvalidToken};
pub use identity::IdentityValues;
pub use layer::{BoundClient, GuardLayer, GuardService};
pub use revocation::RevocationOptions;
pub use verifier::{Discovery, Guard, GuardOptions, IntrospectionOptions, VerifiedToken};
