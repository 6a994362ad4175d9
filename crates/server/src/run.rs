//! Starting an authorization server from a [`Config`]: open the store, load
//! TLS material, bind listeners, make sure a signing key exists, serve.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use certbound_core::metadata::{AuthorizationServerMetadata, Endpoint};
use certbound_core::{AuthMethod, Clock, SystemClock};
use certbound_store::{SqlStore, Store};
use certbound_tls::{BoundListener, ListenerSettings, TlsFiles, TlsReloader, bind_listener};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::info;

use crate::authorize::{Backoff, FrontChannel};
use crate::clients::ClientCache;
use crate::kek::KeyEncryption;
use crate::keys::{KeyCache, KeyUse};
use crate::rate_limit::RateLimits;
use crate::{AuthorizationServer, Config, ServerError, Settings, endpoints};

/// A server started by [`start`]; dropping it does not stop it, [`RunningServer::stop`] does.
pub struct RunningServer {
    /// Where the mTLS listener is bound.
    pub mtls_addr: Option<SocketAddr>,
    /// Where the public listener is bound.
    pub public_addr: Option<SocketAddr>,
    /// Where the trusted-proxy listener is bound.
    pub proxy_addr: Option<SocketAddr>,
    /// The issuer identifier.
    pub issuer: String,
    /// The mTLS base URL clients use.
    pub mtls_url: Option<String>,
    /// The shared state (for embedding and tests).
    pub server: Arc<AuthorizationServer>,
    /// Reloads every listener's TLS files; SIGHUP and file changes call it.
    pub tls: Arc<TlsReloader>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<std::io::Result<()>>,
    /// `shutdown.delay_seconds`.
    shutdown_delay: Duration,
}

impl RunningServer {
    /// Turns `/readyz` to 503, serves on for `shutdown.delay_seconds`, then
    /// stops accepting, lets requests in flight finish (each listener's
    /// `drain_timeout_secs`), and waits for the listeners.
    pub async fn stop(mut self) {
        self.server
            .draining
            .store(true, std::sync::atomic::Ordering::Relaxed);
        if !self.shutdown_delay.is_zero() {
            info!(
                delay_seconds = self.shutdown_delay.as_secs(),
                "shutting down: /readyz answers 503; serving on until the delay ends"
            );
            tokio::time::sleep(self.shutdown_delay).await;
        }
        info!("shutting down: no new connections; draining requests in flight");
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }

    /// Waits until a listener fails (it should not) or [`RunningServer::stop`] is called elsewhere.
    pub async fn wait(&mut self) -> Result<(), ServerError> {
        while let Some(done) = self.tasks.join_next().await {
            if let Ok(Err(e)) = done {
                return Err(ServerError::Io {
                    what: "listener".into(),
                    source: e,
                });
            }
        }
        Ok(())
    }
}

/// Binds the listener at `key` when the file configures one.
async fn bind_if_configured(
    key: &str,
    settings: Option<&ListenerSettings>,
    tls: &TlsFiles,
) -> Result<Option<BoundListener>, ServerError> {
    match settings {
        Some(settings) => Ok(Some(bind_listener(key, settings, tls).await?)),
        None => Ok(None),
    }
}

/// How often expired tokens, revocations and unpublished keys are deleted.
const PURGE_INTERVAL: Duration = Duration::from_secs(600);

/// Deletes what can no longer matter, so tables stay small; a failure is
/// logged and retried next round.
async fn purge_expired(
    store: Arc<dyn Store>,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    while waited(&mut stopped, PURGE_INTERVAL).await {
        match store.purge_expired(crate::now()).await {
            Ok(n) if n > 0 => info!(rows = n, "purged expired tokens, revocations and keys"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "purging expired rows failed; will retry"),
        }
    }
    Ok(())
}

/// Empties the client cache whenever the store's client generation moves
/// (or cannot be read: then nothing cached can be trusted to be current).
async fn watch_client_changes(
    server: Arc<AuthorizationServer>,
    every: Duration,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    while waited(&mut stopped, every).await {
        let generation = match server.store.client_generation().await {
            Ok(g) => Some(g),
            Err(e) => {
                tracing::warn!(error = %e, "reading the client generation failed; client cache emptied");
                None
            }
        };
        server.clients.observe_generation(generation);
    }
    Ok(())
}

/// Sleeps `period` for a background loop: false, at once, when the server stops.
async fn waited(stopped: &mut watch::Receiver<bool>, period: Duration) -> bool {
    tokio::select! {
        _ = stopped.wait_for(|s| *s) => false,
        () = tokio::time::sleep(period) => true,
    }
}

/// Opens the store and starts every configured listener.
pub async fn start(config: Config) -> Result<RunningServer, ServerError> {
    start_with_clock(config, Arc::new(SystemClock)).await
}

/// As [`start`], reading time from `clock` (tests move a `ManualClock`).
pub async fn start_with_clock(
    config: Config,
    clock: Arc<dyn Clock>,
) -> Result<RunningServer, ServerError> {
    // Before the database is touched: a missing or unreadable KEK changes nothing.
    let kek = Arc::new(KeyEncryption::from_config(&config.keys)?);
    let store: Arc<dyn Store> =
        Arc::new(SqlStore::connect_with(&config.storage.url, config.storage.pool_size()).await?);
    start_with_store(config, store, kek, clock).await
}

/// As [`start_with_clock`], with an already-open store and the KEKs read.
pub async fn start_with_store(
    config: Config,
    store: Arc<dyn Store>,
    kek: Arc<KeyEncryption>,
    clock: Arc<dyn Clock>,
) -> Result<RunningServer, ServerError> {
    // jsonwebtoken's crypto is ring's, installed before any token is touched.
    certbound_jose::install();
    let (l, tls) = (&config.listeners, &config.tls);
    let mtls = bind_if_configured("listeners.mtls", l.mtls.as_ref(), tls).await?;
    let public = bind_if_configured("listeners.public", l.public.as_ref(), tls).await?;
    let proxy = bind_if_configured("listeners.proxy", l.proxy.as_ref(), tls).await?;
    let reloader = Arc::new(TlsReloader::new(
        tls,
        [&mtls, &public, &proxy].into_iter().flatten(),
    ));
    let addr_url = |l: &Option<BoundListener>| {
        l.as_ref()
            .map(|l| (l.local_addr(), l.url().to_owned()))
            .unzip()
    };
    let (mtls_addr, mtls_url) = addr_url(&mtls);
    let (public_addr, public_url) = addr_url(&public);
    let (proxy_addr, proxy_url): (Option<SocketAddr>, Option<String>) = addr_url(&proxy);

    // Browser-facing and secret clients use the base URL; certificate
    // clients the mTLS alias when it differs (RFC 8705 §5).
    let base = public_url
        .clone()
        .or_else(|| proxy_url.clone())
        .or_else(|| mtls_url.clone())
        .ok_or_else(|| ServerError::Setup("no listener configured".into()))?;
    let issuer = config.issuer.clone().unwrap_or_else(|| base.clone());
    let mut mtls_endpoint_aliases = BTreeMap::new();
    if let Some(m) = mtls_url.as_ref().filter(|m| **m != base) {
        for (endpoint, path) in [
            (Endpoint::Token, "/token"),
            (Endpoint::Introspection, "/introspect"),
            (Endpoint::Revocation, "/revoke"),
            (Endpoint::RevocationList, endpoints::REVOCATION_LIST_PATH),
        ] {
            mtls_endpoint_aliases.insert(endpoint.as_str().to_owned(), format!("{m}{path}"));
        }
    }
    let methods: Vec<String> = AuthMethod::ALL
        .into_iter()
        .filter(|m| config.clients.allow_client_secret || !m.uses_secret())
        .map(|m| m.as_str().to_owned())
        .collect();
    let metadata = AuthorizationServerMetadata {
        issuer: issuer.clone(),
        token_endpoint: format!("{base}/token"),
        authorization_endpoint: Some(format!("{base}/authorize")),
        jwks_uri: Some(format!("{base}/jwks")),
        introspection_endpoint: Some(format!("{base}/introspect")),
        revocation_endpoint: Some(format!("{base}/revoke")),
        certbound_revocation_list_endpoint: Some(format!(
            "{base}{}",
            endpoints::REVOCATION_LIST_PATH
        )),
        grant_types_supported: crate::clients::GRANT_TYPES
            .iter()
            .map(|g| (*g).to_owned())
            .collect(),
        token_endpoint_auth_methods_supported: methods.clone(),
        // Public clients prove nothing at introspection (RFC 7662 §2.1).
        introspection_endpoint_auth_methods_supported: methods
            .iter()
            .filter(|m| *m != AuthMethod::None.as_str())
            .cloned()
            .collect(),
        revocation_endpoint_auth_methods_supported: methods,
        response_types_supported: vec!["code".to_owned()],
        response_modes_supported: vec!["query".to_owned(), "form_post".to_owned()],
        code_challenge_methods_supported: vec!["S256".to_owned()],
        authorization_response_iss_parameter_supported: true,
        tls_client_certificate_bound_access_tokens: true,
        mtls_endpoint_aliases,
        scopes_supported: vec![],
    };
    let metadata_json =
        serde_json::to_string(&metadata).map_err(|e| ServerError::Setup(e.to_string()))?;
    let ttl = i64::try_from(config.tokens.access_token_ttl).unwrap_or(300);
    let keys = KeyCache::open_with_clock(
        Arc::clone(&store),
        kek,
        config.tokens.signing_alg,
        Duration::from_secs(config.keys.cache_seconds),
        KeyUse {
            token_ttl: ttl,
            signing_lag: i64::try_from(config.keys.cache_seconds).unwrap_or(i64::MAX),
        },
        Arc::clone(&clock),
    )
    .await?;
    let rate_limits = RateLimits::new(&config.rate_limits, Arc::clone(&clock));
    let login = &config.login;
    let front_channel = FrontChannel {
        login_url: login.url.clone(),
        admin_scope: login.admin_scope.clone(),
        base_url: base.clone(),
        backoff: Backoff::new(
            Arc::clone(&clock),
            login.max_failures,
            Duration::from_secs(login.failure_window_seconds),
        ),
        clock,
    };
    let clients = ClientCache::new(config.clients.cache_seconds > 0);
    clients.observe_generation(store.client_generation().await.ok());
    let server = Arc::new(AuthorizationServer {
        store,
        keys,
        clients,
        settings: Settings {
            default_audience: config
                .tokens
                .default_audience
                .clone()
                .unwrap_or_else(|| issuer.clone()),
            issuer: issuer.clone(),
            access_token_ttl: ttl,
            allow_client_secret: config.clients.allow_client_secret,
            refresh: config.refresh_tokens.clone(),
        },
        metadata_json,
        front_channel,
        rate_limits,
        draining: std::sync::atomic::AtomicBool::new(false),
    });

    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let app = endpoints::router(Arc::clone(&server));
    for listener in [mtls, public, proxy].into_iter().flatten() {
        let mut rx = stopped.clone();
        let shutdown = async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        tasks.spawn(listener.serve(app.clone(), shutdown));
    }
    let mut rx = stopped.clone();
    // Listening for SIGHUP starts in this call, before start() returns.
    tasks.spawn(Arc::clone(&reloader).watch(async move {
        let _ = rx.wait_for(|s| *s).await;
    }));
    tasks.spawn(purge_expired(Arc::clone(&server.store), stopped.clone()));
    if config.clients.cache_seconds > 0 {
        tasks.spawn(watch_client_changes(
            Arc::clone(&server),
            Duration::from_secs(config.clients.cache_seconds),
            stopped.clone(),
        ));
    }
    info!(%issuer, mtls = ?mtls_addr, public = ?public_addr, proxy = ?proxy_addr, "authorization server started");
    Ok(RunningServer {
        mtls_addr,
        public_addr,
        proxy_addr,
        issuer,
        mtls_url,
        server,
        tls: reloader,
        stop,
        tasks,
        shutdown_delay: config.shutdown.delay(),
    })
}
