//! A real certbound authorization server started in-process, its endpoints
//! served behind a layer that counts token requests, and a protected resource.

#![allow(dead_code, missing_docs)]

pub mod resource;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::Request;
use axum::middleware::Next;
use certbound_client::{CertboundClient, CertboundClientBuilder, TlsSettings};
use certbound_server::RunningServer;
use certbound_server::clients::TokenFormat;
use certbound_testkit::config::as_toml;
use certbound_testkit::server::{register_tls_client, start_as_from};
use certbound_testkit::{TestIdentity, TestPki};
use certbound_tls::{ClientAuth, ClientCaBundle, ListenerMode};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Token requests seen on the mTLS and on the public listener.
#[derive(Debug, Default)]
pub struct Counts {
    pub mtls: AtomicUsize,
    pub public: AtomicUsize,
}

/// The authorization server. Its router runs behind two listeners of our
/// own (mTLS and public) so every request to `/token` is counted; the
/// server's metadata names those listeners, so clients only ever use them.
pub struct TestAs {
    pub pki: TestPki,
    pub issuer: String,
    pub mtls_url: String,
    pub counts: Arc<Counts>,
    running: Option<RunningServer>,
    stops: Vec<(oneshot::Sender<()>, JoinHandle<std::io::Result<()>>)>,
    _dir: TempDir,
}

async fn bind() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("local address").port();
    (listener, format!("https://localhost:{port}"))
}

impl TestAs {
    /// Starts with `[tokens] access_token_ttl = ttl`.
    pub async fn start(ttl: u64) -> Self {
        let pki = TestPki::new();
        let dir = tempfile::tempdir().expect("tempdir");
        let (mtls_listener, mtls_url) = bind().await;
        let (public_listener, issuer) = bind().await;
        let listeners = format!(
            "[listeners.mtls]\naddr = \"127.0.0.1:0\"\nurl = \"{mtls_url}\"\n\
             [listeners.public]\naddr = \"127.0.0.1:0\"\nurl = \"{issuer}\""
        );
        let toml = as_toml(
            &pki,
            &certbound_testkit::sqlite_url(dir.path()),
            &listeners,
            &format!("[tokens]\naccess_token_ttl = {ttl}"),
        );
        let running = start_as_from(&toml, dir.path()).await;
        assert_eq!(running.issuer, issuer);

        let counts = Arc::new(Counts::default());
        let cas = ClientCaBundle::from_pem_file(&pki.ca_path()).expect("client CAs");
        let tls = |auth: &ClientAuth| {
            certbound_tls::server_config(pki.server_chain(), pki.server_key(), auth)
                .expect("server TLS config")
        };
        let modes = [
            (
                mtls_listener,
                ListenerMode::MutualTls {
                    config: tls(&ClientAuth::Request(cas.clone())),
                    client_cas: cas,
                },
                true,
            ),
            (
                public_listener,
                ListenerMode::Tls {
                    config: tls(&ClientAuth::None),
                },
                false,
            ),
        ];
        let mut stops = Vec::new();
        for (listener, mode, is_mtls) in modes {
            let counts = Arc::clone(&counts);
            let app = certbound_server::endpoints::router(Arc::clone(&running.server)).layer(
                axum::middleware::from_fn(move |request: Request, next: Next| {
                    let counts = Arc::clone(&counts);
                    async move {
                        if request.uri().path() == "/token" {
                            let counter = if is_mtls {
                                &counts.mtls
                            } else {
                                &counts.public
                            };
                            counter.fetch_add(1, Ordering::SeqCst);
                        }
                        next.run(request).await
                    }
                }),
            );
            let (stop, stopped) = oneshot::channel::<()>();
            let task = tokio::spawn(certbound_tls::serve(
                listener,
                mode,
                certbound_tls::ConnectionLimits::default(),
                app,
                async move {
                    let _ = stopped.await;
                },
            ));
            stops.push((stop, task));
        }
        Self {
            pki,
            issuer,
            mtls_url,
            counts,
            running: Some(running),
            stops,
            _dir: dir,
        }
    }

    /// Token requests that reached the mTLS token endpoint.
    pub fn token_requests(&self) -> usize {
        self.counts.mtls.load(Ordering::SeqCst)
    }

    /// Token requests that reached the public (no certificate) endpoint.
    pub fn public_token_requests(&self) -> usize {
        self.counts.public.load(Ordering::SeqCst)
    }

    /// Registers `id` as a `tls_client_auth` client (subject `CN=id`, scopes
    /// `read write`) and issues its certificate.
    pub async fn register(&self, id: &str) -> TestIdentity {
        let running = self.running.as_ref().expect("server running");
        register_tls_client(running, id, "read write", TokenFormat::default()).await;
        self.pki.simple_client(id)
    }

    /// TLS settings trusting the test CA and presenting `identity`.
    pub fn tls(&self, identity: &TestIdentity) -> TlsSettings {
        let ca = self.pki.ca_path();
        TlsSettings::from_pem_files(Some(&ca), Some((&identity.cert_path, &identity.key_path)))
            .expect("TLS settings")
    }

    /// A client builder for `id` with `identity`.
    pub fn builder(&self, id: &str, identity: &TestIdentity) -> CertboundClientBuilder {
        CertboundClient::builder(&self.issuer, id, self.tls(identity))
    }

    /// Stops the server and both counting listeners, closing their connections.
    pub async fn stop(&mut self) {
        for (stop, task) in self.stops.drain(..) {
            let _ = stop.send(());
            let _ = task.await;
        }
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }
}
