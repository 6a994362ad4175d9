//! The gateway's entry for every request. Proxied requests go straight to
//! [`proxy`] and `/readyz` is answered in place; only paths under the check
//! endpoint take the axum router, so the per-request path skips routing,
//! boxed services and extractors.

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
use http::{Method, Request, StatusCode};
use tower::{Service, ServiceExt};

use crate::proxy::{GatewayState, error, forward, proxy, refused_method};
use crate::{CHECK_PATH, READY_PATH, check};

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
    type Future = Answer;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        // Before the check endpoint and the proxy alike.
        if let Some(refused) = refused_method(req.method()) {
            return Answer(Box::pin(std::future::ready(refused)));
        }
        let head = req.method() == Method::HEAD;
        if req.uri().path() == READY_PATH {
            let response = crate::ready::readyz(&self.state, req.method());
            let response = if head {
                without_body(response)
            } else {
                response
            };
            return Answer(Box::pin(std::future::ready(response)));
        }
        if req.uri().path().starts_with(CHECK_PATH) {
            let check = self.check.clone().oneshot(req);
            return Answer(Box::pin(async move {
                let Ok(response) = check.await;
                response
            }));
        }
        let certificate = req.extensions_mut().remove::<PeerCertificate>();
        let Some(info) = req.extensions_mut().remove::<ConnectionInfo>() else {
            let response = error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "request not served by certbound_tls::serve",
            );
            return Answer(Box::pin(std::future::ready(response)));
        };
        let answer = proxy(Arc::clone(&self.state), info, certificate, req);
        if head {
            return Answer(Box::pin(async move { without_body(answer.await) }));
        }
        // The proxy's own future, boxed as it is: each request allocates it,
        // and a wrapper would hold a second copy of the request.
        Answer(Box::pin(answer))
    }
}

/// A response to `HEAD`: the headers of the `GET` answer, no body. HTTP/1.1
/// drops it by itself; over HTTP/2 the gateway's own JSON answers would
/// otherwise be sent, and the stream reset. (The axum router behind the
/// check endpoint does this for its own answers.)
fn without_body(mut response: Response) -> Response {
    *response.body_mut() = Body::empty();
    response
}

/// The response to one request, as the service trait wants it (never an error).
pub(crate) struct Answer(Pin<Box<dyn Future<Output = Response> + Send>>);

impl Future for Answer {
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx).map(Ok)
    }
}
