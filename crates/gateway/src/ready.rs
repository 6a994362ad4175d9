//! Waiting for the authorization server. The gateway serves from the start:
//! until the AS's metadata and keys (and, with revocation polling, its
//! revocation list) have arrived, every authorised request is a 503 with
//! `Retry-After`, and a background task tries again with backoff. No
//! restart is needed once it succeeds.

use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use certbound_guard::{Discovery, Guard, GuardError};
use http::header::{self, HeaderValue};
use http::{Method, StatusCode};
use serde_json::json;
use tokio::sync::watch;

use crate::proxy::{GatewayState, error};

/// The first wait after a failed attempt.
const FIRST_WAIT: Duration = Duration::from_millis(500);
/// The longest wait between attempts.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// The guard once it can verify tokens, and the wait until the next try.
pub(crate) struct Readiness {
    guard: OnceLock<Guard>,
    /// Milliseconds until the next attempt, for `Retry-After`.
    retry_in_ms: AtomicU64,
    /// Set when shutdown begins: `/readyz` answers 503 from then on.
    pub(crate) draining: AtomicBool,
}

impl Readiness {
    pub(crate) fn new() -> Self {
        Self {
            guard: OnceLock::new(),
            retry_in_ms: AtomicU64::new(millis(FIRST_WAIT)),
            draining: AtomicBool::new(false),
        }
    }

    /// The guard, once ready: one atomic load on the request path.
    pub(crate) fn guard(&self) -> Option<&Guard> {
        self.guard.get()
    }

    /// Seconds a caller should wait: the current backoff, rounded up.
    fn retry_after_seconds(&self) -> u64 {
        self.retry_in_ms
            .load(Ordering::Relaxed)
            .div_ceil(1000)
            .max(1)
    }

    /// The answer to a request that needs the guard before it is ready: the
    /// same generic 503 as for an AS outage, the current backoff as `Retry-After`.
    pub(crate) fn refusal(&self) -> Response {
        // Logged once per attempt by the task, not per request.
        GuardError::Unavailable(String::new()).response(self.retry_after_seconds())
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `GET /readyz`, shaped like the AS's own: 200 once the gateway can
/// verify tokens; 503 before (with the backoff as `Retry-After`), while
/// the revocation list is too stale to accept any token, and once shutdown
/// has begun.
pub(crate) fn readyz(state: &GatewayState, method: &Method) -> Response {
    if method != Method::GET && method != Method::HEAD {
        let mut res = error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            &format!("{} answers GET and HEAD", crate::READY_PATH),
        );
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return res;
    }
    let readiness = &state.readiness;
    let unavailable = |reason: &str| {
        let body = json!({ "status": "unavailable", "reason": reason });
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
    };
    let mut res = match readiness.guard() {
        _ if readiness.draining.load(Ordering::Relaxed) => unavailable("shutting down"),
        None => {
            let mut res = unavailable("waiting for the authorization server");
            res.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(readiness.retry_after_seconds()),
            );
            res
        }
        Some(guard) if guard.revocation_list_stale() => unavailable("revocation list stale"),
        Some(_) => axum::Json(json!({ "status": "ready" })).into_response(),
    };
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// Exponential backoff with jitter, so gateways started together do not
/// ask the AS in step.
struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Self {
        Self { next: FIRST_WAIT }
    }

    /// The wait before the next attempt: between half and all of the
    /// current step, which doubles up to [`MAX_WAIT`].
    fn wait(&mut self) -> Duration {
        let step = self.next;
        self.next = (step * 2).min(MAX_WAIT);
        // Spreading attempts needs no cryptographic randomness: std's
        // randomly keyed hasher gives a different value per call.
        let spread = RandomState::new().hash_one(step) % (millis(step) / 2 + 1);
        step / 2 + Duration::from_millis(spread)
    }
}

/// Tries until the guard is ready or the gateway stops; tells `ready` when
/// it is. Each failure is logged once, with what failed and why.
pub(crate) async fn wait_for_authorization_server(
    discovery: Discovery,
    state: std::sync::Arc<GatewayState>,
    ready: watch::Sender<bool>,
    mut stopped: watch::Receiver<bool>,
) {
    let issuer = discovery.options().issuer.clone();
    let mut backoff = Backoff::new();
    for attempt in 1u64.. {
        let outcome = tokio::select! {
            outcome = connect(&discovery) => outcome,
            _ = stopped.wait_for(|s| *s) => return,
        };
        let error = match outcome {
            Ok((guard, keys)) => {
                if state.readiness.guard.set(guard).is_ok() {
                    tracing::info!(%issuer, attempt, keys, "authorization server reached; gateway ready");
                    let _ = ready.send(true);
                }
                return;
            }
            Err(e) => e,
        };
        let wait = backoff.wait();
        state
            .readiness
            .retry_in_ms
            .store(millis(wait), Ordering::Relaxed);
        let retry_in_ms = millis(wait);
        match error {
            GuardError::Setup(why) => tracing::error!(
                %issuer, attempt, retry_in_ms, error = %why,
                "the authorization server answered, but not as configured; answering 503 and retrying"
            ),
            other => {
                let why = match other {
                    GuardError::Unavailable(why) => why,
                    other => other.to_string(),
                };
                tracing::warn!(
                    %issuer, attempt, retry_in_ms, error = %why,
                    "authorization server not reachable yet; answering 503 and retrying"
                );
            }
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
    }
}

/// One attempt: metadata, revocation list, keys.
async fn connect(discovery: &Discovery) -> Result<(Guard, usize), GuardError> {
    let guard = discovery.attempt().await?;
    let keys = guard.preload().await?;
    Ok((guard, keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap_with_jitter() {
        let mut b = Backoff::new();
        let mut steps = Vec::new();
        for _ in 0..10 {
            let step = b.next;
            let wait = b.wait();
            assert!(wait >= step / 2 && wait <= step, "{wait:?} within {step:?}");
            steps.push(step);
        }
        assert_eq!(steps[0], Duration::from_millis(500));
        assert_eq!(steps[1], Duration::from_secs(1));
        assert_eq!(steps[5], Duration::from_secs(16));
        assert_eq!(steps[6], MAX_WAIT);
        assert_eq!(steps[9], MAX_WAIT);
        // Not every wait the same: the jitter spreads them.
        let waits: Vec<Duration> = (0..20).map(|_| b.wait()).collect();
        assert!(waits.iter().any(|w| *w != waits[0]), "{waits:?}");
    }

    #[test]
    fn retry_after_is_the_backoff_rounded_up_and_at_least_one() {
        let r = Readiness::new();
        for (ms, seconds) in [(0, 1), (250, 1), (1000, 1), (1001, 2), (29_400, 30)] {
            r.retry_in_ms.store(ms, Ordering::Relaxed);
            assert_eq!(r.retry_after_seconds(), seconds, "{ms} ms");
        }
        let res = r.refusal();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            res.headers().get(header::RETRY_AFTER),
            Some(&HeaderValue::from_static("30"))
        );
        assert_eq!(
            res.headers().get(header::WWW_AUTHENTICATE),
            Some(&HeaderValue::from_static("Bearer realm=\"certbound\""))
        );
    }
}
