//! Pure protocol logic for certbound: certificate identity (RFC 8705
//! `x5t#S256`, RFC 4514 distinguished names, subject alternative names).
//!
//! Nothing here performs I/O or depends on an async runtime, so every function
//! can be unit-tested, fuzzed and reused by the listener, the authorization
//! server and the guard alike.

pub mod claims;
pub mod client_auth;
pub mod clock;
pub mod dn;
mod error;
pub mod identity;
pub mod metadata;
pub mod oauth;
pub mod pkce;
pub mod redirect_uri;
mod thumbprint;

pub use claims::{AccessTokenClaims, Confirmation};
pub use client_auth::{AuthMethod, TlsClientAuthMatcher};
pub use clock::{Clock, ManualClock, SystemClock};
pub use dn::DistinguishedName;
pub use error::{DnError, IdentityError};
pub use identity::{CertificateIdentity, SubjectAltNames, Validity};
pub use metadata::{AuthorizationServerMetadata, metadata_url};
pub use oauth::ErrorCode;
pub use pkce::{CodeChallenge, PkceError};
pub use redirect_uri::{RedirectUri, RedirectUriFault};
pub use thumbprint::{Thumbprint, ThumbprintText};
