//! Pure protocol logic for certbound: certificate identity (RFC 8705
//! `x5t#S256`, RFC 4514 distinguished names, subject alternative names).
//!
//! Nothing here performs I/O or depends on an async runtime, so every function
//! can be unit-tested, fuzzed and reused by the listener, the authorization
//! server and the guard alike.

pub mod dn;
mod error;
pub mod identity;
mod thumbprint;

pub use dn::DistinguishedName;
pub use error::{DnError, IdentityError};
pub use identity::{CertificateIdentity, SubjectAltNames, Validity};
pub use thumbprint::Thumbprint;
