//! The gateway's entry for every request. Proxied requests go straight to
//! [`proxy`]; only paths under the check endpoint take the axum router, so
//! the per-request path skips routing, boxed services and extractors.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use axum::routing::any;
use certbound_tls::{ConnectionInfo, PeerCertificate};
use http::{Request, StatusCode};
use tower::{Service, ServiceExt};

use crate::proxy::{GatewayState, error, forward, proxy};
use crate::{CHECK_PATH, check};

/// Routes a request to the check endpoint or the proxy.
#[derive(Clone)]
pub(crate) struct GatewayService {
    state: Arc<GatewayState>,
    /// The check endpoint; its fallback proxies, as for any other path.
    check: Router,
}

impl GatewayService {
    pub(crate) fn new(state: Arc<GatewayState>) -> Self {
        let check = Router::new()
            .route(CHECK_PATH, any(check::check))
            .route(&format!("{CHECK_PATH}/{{*rest}}"), any(check::check))
            .fallback(forward)
            .with_state(Arc::clone(&state));
        Self { state, check }
    }
}

impl Service<Request<Body>> for GatewayService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        if req.uri().path().starts_with(CHECK_PATH) {
            return Box::pin(self.check.clone().oneshot(req));
        }
        let state = Arc::clone(&self.state);
        Box::pin(async move {
            let certificate = req.extensions_mut().remove::<PeerCertificate>();
            let Some(info) = req.extensions_mut().remove::<ConnectionInfo>() else {
                return Ok(error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "request not served by certbound_tls::serve",
                ));
            };
            Ok(proxy(&state, info, certificate, req).await)
        })
    }
}
