//! Client SDK for certbound and any RFC 8705 authorization server: load a
//! PEM identity, discover RFC 8414 metadata, use `mtls_endpoint_aliases`,
//! and obtain certificate-bound tokens over the same identity.

mod discovery;
mod error;
mod identity;

pub use discovery::{OAuthClient, ServerMetadata, TokenResponse, metadata_url};
pub use error::ClientError;
pub use identity::TlsSettings;
