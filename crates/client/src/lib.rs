//! Client SDK for certbound and any RFC 8705 authorization server: load a
//! PEM identity, discover RFC 8414 metadata, use `mtls_endpoint_aliases`,
//! and obtain certificate-bound tokens over the same identity.
//!
//! [`CertboundClient`] does all of it: it caches the token, refreshes it
//! before expiry with a single fetch however many callers are waiting, and
//! sends requests to resource servers with the token over the identity it
//! is bound to.

mod bound;
mod cache;
mod discovery;
mod error;
mod request;

pub use bound::{CertboundClient, CertboundClientBuilder};
pub use cache::{AccessToken, RefreshPolicy};
pub use certbound_core::metadata::{AuthorizationServerMetadata, Endpoint, metadata_url};
/// Re-exported: the client side of certbound-tls is part of this SDK's API.
pub use certbound_tls::TlsSettings;
// One clock for the whole workspace: the SDK's expiry decisions read it too.
pub use certbound_core::{Clock, ManualClock, SystemClock};
pub use discovery::{OAuthClient, TokenResponse, describe};
pub use error::ClientError;
pub use request::{BoundRequest, ResourceRequest};

/// Re-exported so callers name methods and headers without depending on reqwest directly.
pub use reqwest::{Method, Response, StatusCode, header};
