//! The guard as a tower [`Layer`] and the [`BoundClient`] axum extractor, so
//! a Rust resource server enforces bound tokens in-process with the same
//! code the gateway uses.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use certbound_tls::PeerCertificate;
use http::Request;
use http::request::Parts;
use tower::{Layer, Service};

use crate::{Guard, GuardError, VerifiedToken};

/// Verifies every request's token and binding, and optionally scopes;
/// refused requests never reach the inner service.
#[derive(Clone)]
pub struct GuardLayer {
    guard: Guard,
    scopes: Arc<[String]>,
}

impl GuardLayer {
    /// Checks token and binding only.
    pub fn new(guard: Guard) -> Self {
        Self {
            guard,
            scopes: Arc::new([]),
        }
    }

    /// Also requires these scopes (403 `insufficient_scope` otherwise).
    pub fn require_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = GuardService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GuardService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`GuardLayer`] produces.
#[derive(Clone)]
pub struct GuardService<S> {
    inner: S,
    layer: GuardLayer,
}

impl<S> Service<Request<Body>> for GuardService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        // Take the service that was polled ready; leave a fresh clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let thumbprint = req
                .extensions()
                .get::<PeerCertificate>()
                .map(PeerCertificate::thumbprint);
            let checked = layer
                .guard
                .verify(req.headers(), req.uri().query(), thumbprint)
                .await
                .and_then(|t| t.require_scopes(&layer.scopes).map(|()| t));
            match checked {
                Ok(token) => {
                    tracing::debug!(client_id = ?token.client_id, jti = %token.jti, "token accepted");
                    req.extensions_mut().insert(token);
                    inner.call(req).await
                }
                Err(e) => {
                    tracing::info!(target: "certbound::audit", event = "token_refused", reason = %e);
                    Ok(e.into_response())
                }
            }
        })
    }
}

/// The verified caller of a request behind [`GuardLayer`]: client id,
/// subject, scopes and the bound certificate's thumbprint.
#[derive(Debug, Clone)]
pub struct BoundClient(pub VerifiedToken);

impl<S: Send + Sync> FromRequestParts<S> for BoundClient {
    type Rejection = GuardError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Without the layer there is no verified token: refuse, never guess.
        parts
            .extensions
            .get::<VerifiedToken>()
            .cloned()
            .map(BoundClient)
            .ok_or(GuardError::MissingToken)
    }
}
