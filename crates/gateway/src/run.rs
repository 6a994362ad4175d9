//! Starting the gateway from its configuration.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use certbound_core::{Clock, SystemClock};
use certbound_guard::{Discovery, GuardOptions, IntrospectionOptions, RevocationOptions};
use certbound_tls::{TlsReloader, TlsSettings};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::GatewayConfig;
use crate::proxy::GatewayState;
use crate::ready::{Readiness, wait_for_authorization_server};
use crate::routes::Route;
use crate::service::GatewayService;
use crate::upstream::Origin;

/// A started gateway.
pub struct RunningGateway {
    /// Bound address.
    pub addr: SocketAddr,
    /// Reloads the listener's TLS files; SIGHUP and file changes call it.
    pub tls: Arc<TlsReloader>,
    stop: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
    ready: watch::Receiver<bool>,
    state: Arc<GatewayState>,
    /// `shutdown.delay_seconds`.
    shutdown_delay: Duration,
    reload: JoinHandle<std::io::Result<()>>,
}

impl RunningGateway {
    /// Waits until the authorization server's metadata and keys have
    /// arrived and tokens are verified (at once if they have); `false` if
    /// the gateway stopped first.
    pub async fn ready(&self) -> bool {
        self.ready.clone().wait_for(|r| *r).await.is_ok()
    }

    /// Whether tokens are verified yet (until then every request is a 503).
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Turns `/readyz` to 503, serves on for `shutdown.delay_seconds`, then
    /// stops accepting, lets requests in flight finish (the listener's
    /// `drain_timeout_secs`), and waits.
    pub async fn stop(self) {
        self.state
            .readiness
            .draining
            .store(true, std::sync::atomic::Ordering::Relaxed);
        if !self.shutdown_delay.is_zero() {
            tracing::info!(
                delay_seconds = self.shutdown_delay.as_secs(),
                "shutting down: /readyz answers 503; serving on until the delay ends"
            );
            tokio::time::sleep(self.shutdown_delay).await;
        }
        let _ = self.stop.send(true);
        let _ = self.task.await;
        let _ = self.reload.await;
    }

    /// Waits until the listener ends.
    pub async fn wait(self) -> std::io::Result<()> {
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}

fn setup(what: &str, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("{what}: {e}"))
}

/// Binds the listener and serves, answering 503 until the authorization
/// server has been reached ([`RunningGateway::ready`]); an error only for
/// what the configuration alone decides (files, addresses, URLs).
pub async fn start(config: GatewayConfig) -> std::io::Result<RunningGateway> {
    start_with_clock(config, Arc::new(SystemClock)).await
}

/// As [`start`], reading time from `clock` (token expiry, key refetch and
/// cache ages), so a test can move it instead of sleeping.
pub async fn start_with_clock(
    config: GatewayConfig,
    clock: Arc<dyn Clock>,
) -> std::io::Result<RunningGateway> {
    // Bound first: the default audience is the URL with the port in use.
    let listener = certbound_tls::bind_listener("listener", &config.listener, &config.tls)
        .await
        .map_err(|e| setup("listener", e))?;
    let addr = listener.local_addr();
    let default_audience = config.default_audience(addr.port());
    if config.policy.audience.is_none()
        && config.listener.url.is_none()
        && !addr.ip().is_loopback()
        && config.routes.iter().any(|r| r.audience.is_none())
    {
        // Reachable from other hosts, yet only tokens for localhost pass.
        tracing::warn!(
            audience = %default_audience,
            "no listener.url or policy.audience: routes without their own audience accept only tokens for {default_audience}; set listener.url to the URL callers use"
        );
    }
    let a = &config.authorization_server;
    let identity = match (&a.cert, &a.key) {
        (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
        _ => None,
    };
    let as_tls = TlsSettings::from_pem_files(a.ca.as_deref(), identity)
        .map_err(|e| setup("authorization_server TLS", e))?;
    let mut options = GuardOptions::new(a.issuer.clone(), default_audience.clone());
    options.clock = clock;
    // Every route's audience, so the guard refuses tokens meant for none of them.
    let mut audiences: Vec<String> = Vec::new();
    for c in &config.routes {
        let aud = c.audience.as_ref().unwrap_or(&default_audience);
        if !audiences.contains(aud) {
            audiences.push(aud.clone());
        }
    }
    if !audiences.is_empty() {
        options.audiences = audiences;
    }
    tracing::info!(audiences = ?options.audiences, "token audiences checked");
    options.require_bound_tokens = config.policy.require_bound_tokens;
    options.leeway = Duration::from_secs(config.policy.leeway_seconds);
    options.jwks_min_refetch = Duration::from_secs(config.policy.jwks_refetch_seconds);
    options.introspection =
        a.introspection_client_id
            .clone()
            .map(|client_id| IntrospectionOptions {
                client_id,
                positive_ttl: Duration::from_secs(a.introspection_cache_seconds),
                negative_ttl: Duration::from_secs(a.introspection_cache_seconds.min(5)),
            });
    options.introspect_jwts = a.validation == crate::config::Validation::Introspection;
    options.revocation = a
        .revocation_poll()
        .zip(a.introspection_client_id.clone())
        .map(|(poll, client_id)| RevocationOptions {
            client_id,
            poll_interval: Duration::from_secs(poll),
            max_staleness: (a.revocation_max_stale_seconds > 0)
                .then(|| Duration::from_secs(a.revocation_max_stale_seconds)),
        });
    // Asked in the background: the AS may start after the gateway.
    let discovery =
        Discovery::new(options, &as_tls).map_err(|e| setup("authorization server", e))?;

    let upstream_tls = TlsSettings::from_pem_files(config.upstream.ca.as_deref(), None)
        .map_err(|e| setup("upstream TLS", e))?;
    let connect_timeout = Duration::from_millis(config.upstream.connect_timeout_ms);
    // Routes to the same scheme://host:port share one connection pool.
    let mut origins: Vec<(String, Arc<Origin>)> = Vec::new();
    let mut routes = Vec::with_capacity(config.routes.len());
    for (i, c) in config.routes.iter().enumerate() {
        let mut route = Route::from_config(c, &default_audience)
            .ok_or_else(|| setup(&format!("routes[{i}].upstream"), "not a URL"))?;
        let key = format!(
            "{}://{}",
            route.upstream.scheme_str().unwrap_or_default(),
            route.upstream.authority().map_or("", |a| a.as_str())
        );
        route.origin = match origins.iter().position(|(k, _)| *k == key) {
            Some(n) => n,
            None => {
                let origin = Origin::new(
                    &route.upstream,
                    &upstream_tls.client_config(),
                    connect_timeout,
                )
                .map_err(|e| setup(&format!("routes[{i}].upstream"), e))?;
                origins.push((key, Arc::new(origin)));
                origins.len() - 1
            }
        };
        routes.push(route);
    }
    let state = Arc::new(GatewayState {
        readiness: Readiness::new(),
        routes,
        origins: origins.into_iter().map(|(_, o)| o).collect(),
        forward_client_cert: config.upstream.forward_client_cert,
        request_timeout: Duration::from_millis(config.upstream.request_timeout_ms),
    });
    let app = GatewayService::new(Arc::clone(&state));

    let reloader = Arc::new(TlsReloader::new(&config.tls, [&listener]));
    let (stop, mut stopped) = watch::channel(false);
    let (ready_tx, ready) = watch::channel(false);
    tokio::spawn(wait_for_authorization_server(
        discovery,
        Arc::clone(&state),
        ready_tx,
        stop.subscribe(),
    ));
    let mut reload_stopped = stopped.clone();
    // Listening for SIGHUP starts in this call, before start() returns.
    let reload = tokio::spawn(Arc::clone(&reloader).watch(async move {
        let _ = reload_stopped.wait_for(|s| *s).await;
    }));
    let task = tokio::spawn(listener.serve(app, async move {
        let _ = stopped.wait_for(|s| *s).await;
    }));
    tracing::info!(%addr, "gateway started; answering 503 until the authorization server is reached");
    Ok(RunningGateway {
        addr,
        tls: reloader,
        stop,
        task,
        ready,
        state,
        shutdown_delay: config.shutdown.delay(),
        reload,
    })
}
