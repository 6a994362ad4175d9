//! Hot reload of the server certificate, key and client-CA bundle: real
//! listeners built by `bind_listener`, real handshakes, files replaced on
//! disk the way rotation tools do (renamed into place, or a Kubernetes
//! `..data` symlink swapped), then `TlsReloader::reload` (what SIGHUP
//! calls) or the file poller.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine;
use certbound_core::Thumbprint;
use certbound_testkit::{TestIdentity, TestPki, client_config};
use certbound_tls::{ListenerSettings, TlsError, TlsFiles, TlsReloader, bind_listener};
use serde_json::Value;
use tempfile::TempDir;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

const MTLS: &str = "mode = \"mtls\"\naddr = \"127.0.0.1:0\"";
const PROXY: &str = "mode = \"proxy\"\naddr = \"127.0.0.1:0\"\ntrusted_proxies = [\"127.0.0.1\"]\ncertificate_header = \"rfc9440\"";

/// Every log line of this test binary (one global subscriber; each test
/// picks its lines out by its own temporary directory's path).
fn logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buf);
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || LogSink(Arc::clone(&sink)))
            .init();
        buf
    })
}

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl Write for LogSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The logged lines that mention `marker`.
fn log_lines(marker: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
    text.lines()
        .filter(|l| l.contains(marker))
        .map(str::to_owned)
        .collect()
}

/// A process's `[tls]` files in their own directory, replaced as rotation
/// tools replace them: written beside the old file, then renamed over it.
struct TlsDir {
    dir: TempDir,
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
}

impl TlsDir {
    /// The PKI's server certificate and key, and its CA as the client-CA bundle.
    fn new(pki: &TestPki) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let files = Self {
            cert: dir.path().join("tls.crt"),
            key: dir.path().join("tls.key"),
            ca: dir.path().join("ca.crt"),
            dir,
        };
        let read = |name: &str| std::fs::read(pki.dir().join(name)).unwrap();
        files.put(&files.cert, &read(certbound_pki::SERVER_CERT));
        files.put(&files.key, &read(certbound_pki::SERVER_KEY));
        files.put(&files.ca, &std::fs::read(pki.ca_path()).unwrap());
        files
    }

    fn marker(&self) -> String {
        self.dir.path().display().to_string()
    }

    fn put(&self, path: &Path, contents: &[u8]) {
        let tmp = path.with_extension("new");
        std::fs::write(&tmp, contents).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }

    fn put_server(&self, id: &TestIdentity) {
        self.put(&self.cert, id.issued.cert_pem.as_bytes());
        self.put(&self.key, id.issued.key_pem.as_bytes());
    }

    fn put_ca(&self, pki: &TestPki) {
        self.put(&self.ca, &std::fs::read(pki.ca_path()).unwrap());
    }

    fn files(&self, reload_interval_secs: u64) -> TlsFiles {
        TlsFiles {
            cert: Some(self.cert.clone()),
            key: Some(self.key.clone()),
            client_ca: Some(self.ca.clone()),
            reload_interval_secs,
        }
    }
}

/// Listeners bound from one `[tls]` table and the reloader covering them;
/// they stop when this is dropped.
struct Served {
    addrs: Vec<SocketAddr>,
    reloader: Arc<TlsReloader>,
    stop: watch::Sender<bool>,
}

impl Served {
    async fn start(files: &TlsFiles, listeners: &[&str]) -> Self {
        let (stop, stopped) = watch::channel(false);
        let mut bound = Vec::new();
        for text in listeners {
            let settings: ListenerSettings = toml::from_str(text).unwrap();
            bound.push(bind_listener("listener", &settings, files).await.unwrap());
        }
        let reloader = Arc::new(TlsReloader::new(files, &bound));
        let mut addrs = Vec::new();
        for listener in bound {
            addrs.push(listener.local_addr());
            let mut rx = stopped.clone();
            tokio::spawn(listener.serve(common::app(), async move {
                let _ = rx.wait_for(|s| *s).await;
            }));
        }
        Self {
            addrs,
            reloader,
            stop,
        }
    }

    /// Runs the SIGHUP and file-change watcher until the listeners stop.
    fn watch(&self) {
        let mut rx = self.stop.subscribe();
        tokio::spawn(Arc::clone(&self.reloader).watch(async move {
            let _ = rx.wait_for(|s| *s).await;
        }));
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// One HTTP/1.1 connection that stays open across requests.
struct KeepAlive<S> {
    io: S,
    pending: Vec<u8>,
}

type TlsConn = KeepAlive<tokio_rustls::client::TlsStream<TcpStream>>;

impl TlsConn {
    async fn tls(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> std::io::Result<Self> {
        let tcp = TcpStream::connect(addr).await?;
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let io = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await?;
        Ok(Self {
            io,
            pending: Vec::new(),
        })
    }

    /// `x5t#S256` of the certificate the server presented on this connection.
    fn server_certificate(&self) -> String {
        let certs = self.io.get_ref().1.peer_certificates().unwrap();
        Thumbprint::of_der(&certs[0]).to_string()
    }
}

impl KeepAlive<TcpStream> {
    async fn plain(addr: SocketAddr) -> Self {
        Self {
            io: TcpStream::connect(addr).await.unwrap(),
            pending: Vec::new(),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> KeepAlive<S> {
    /// GET `/whoami` with `headers` (complete lines); the JSON answer.
    async fn whoami(&mut self, headers: &str) -> std::io::Result<Value> {
        let request = format!("GET /whoami HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n");
        self.io.write_all(request.as_bytes()).await?;
        let head_end = loop {
            if let Some(i) = find(&self.pending, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.pending[..head_end]).to_ascii_lowercase();
        if !head.starts_with("http/1.1 200") {
            return Err(std::io::Error::other(format!("answered {head}")));
        }
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("no content-length: {head}")))?;
        while self.pending.len() < head_end + len {
            self.fill().await?;
        }
        let body: Vec<u8> = self
            .pending
            .drain(..head_end + len)
            .skip(head_end)
            .collect();
        serde_json::from_slice(&body).map_err(std::io::Error::other)
    }

    async fn fill(&mut self) -> std::io::Result<()> {
        let mut buf = [0u8; 4096];
        match self.io.read(&mut buf).await? {
            0 => Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                self.pending.extend_from_slice(&buf[..n]);
                Ok(())
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A fresh connection's `/whoami` answer, the `x5t#S256` of the server
/// certificate it saw, and whether it resumed a session.
async fn whoami(addr: SocketAddr, config: &Arc<rustls::ClientConfig>) -> (Value, String, bool) {
    let mut conn = TlsConn::tls(addr, Arc::clone(config)).await.unwrap();
    let resumed = conn.io.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
    let answer = conn.whoami("").await.unwrap();
    (answer, conn.server_certificate(), resumed)
}

fn validated(answer: &Value) -> bool {
    answer["certificate"]["chain_validated"] == true
}

/// The RFC 9440 header a trusted proxy sends for `who`.
fn client_cert_header(who: &TestIdentity) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(&who.issued.cert_der);
    format!("Client-Cert: :{b64}:\r\n")
}

/// `x5t#S256` of the PKI's original server certificate.
fn original(pki: &TestPki) -> String {
    Thumbprint::of_der(&pki.server_chain()[0]).to_string()
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keep_alive_client_keeps_sending_while_the_certificate_and_ca_bundle_rotate() {
    let (pki, next) = (TestPki::new(), TestPki::new());
    let dir = TlsDir::new(&pki);
    let served = Served::start(&dir.files(0), &[MTLS]).await;
    let addr = served.addrs[0];
    let alice = pki.simple_client("alice");
    let alice_trusting_old = Arc::new(client_config(pki.ca_der(), Some(&alice)));

    let mut conn = TlsConn::tls(addr, Arc::clone(&alice_trusting_old))
        .await
        .unwrap();
    assert_eq!(conn.server_certificate(), original(&pki));
    let answered = Arc::new(AtomicUsize::new(0));
    let (stop, stopped) = watch::channel(false);
    let sender = tokio::spawn({
        let answered = Arc::clone(&answered);
        async move {
            while !*stopped.borrow() {
                let answer = conn.whoami("").await?;
                // The handshake's result holds for the connection's life.
                assert!(validated(&answer), "{answer}");
                answered.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok::<_, std::io::Error>(conn)
        }
    });
    wait_for("requests before the rotation", || {
        answered.load(Ordering::SeqCst) >= 3
    })
    .await;

    // The new certificate comes from the new CA, which also replaces the
    // old one as the only trusted client CA.
    let rotated = next.server("rotated");
    dir.put_server(&rotated);
    dir.put_ca(&next);
    served.reloader.reload().unwrap();
    let at_reload = answered.load(Ordering::SeqCst);
    wait_for("requests after the rotation", || {
        answered.load(Ordering::SeqCst) >= at_reload + 3
    })
    .await;
    let _ = stop.send(true);
    let conn = sender.await.unwrap().unwrap();
    assert_eq!(conn.server_certificate(), original(&pki));

    // A new connection gets the new certificate: a client that trusts only
    // the old CA (and holds a session from before) cannot connect, one that
    // trusts the new CA sees exactly the rotated certificate.
    let refused = TlsConn::tls(addr, Arc::clone(&alice_trusting_old)).await;
    assert!(refused.is_err(), "the old certificate is still served");
    let bob = next.simple_client("bob");
    let bob_trusting_new = Arc::new(client_config(next.ca_der(), Some(&bob)));
    let (answer, seen, _) = whoami(addr, &bob_trusting_new).await;
    assert_eq!(seen, rotated.thumbprint().to_string());
    assert!(validated(&answer), "{answer}");
    let alice_trusting_new = Arc::new(client_config(next.ca_der(), Some(&alice)));
    let (answer, _, _) = whoami(addr, &alice_trusting_new).await;
    assert!(!validated(&answer), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_client_ca_bundle_applies_to_new_handshakes_resumed_sessions_and_proxied_requests() {
    let (pki, next) = (TestPki::new(), TestPki::new());
    let dir = TlsDir::new(&pki);
    let served = Served::start(&dir.files(0), &[MTLS, PROXY]).await;
    let (mtls, proxy) = (served.addrs[0], served.addrs[1]);
    let alice = pki.simple_client("alice");
    let bob = next.simple_client("bob");
    let alice_cfg = Arc::new(client_config(pki.ca_der(), Some(&alice)));
    let bob_cfg = Arc::new(client_config(pki.ca_der(), Some(&bob)));

    // Before: the old CA's client validates and resumes; the new CA's does not validate.
    let (answer, _, resumed) = whoami(mtls, &alice_cfg).await;
    assert!(validated(&answer) && !resumed, "{answer}");
    let (answer, _, resumed) = whoami(mtls, &alice_cfg).await;
    assert!(validated(&answer) && resumed, "resumption works: {answer}");
    assert_eq!(answer["resumed"], true);
    let (answer, _, _) = whoami(mtls, &bob_cfg).await;
    assert!(
        answer["certificate"]["chain_status"]
            .as_str()
            .is_some_and(|s| s.starts_with("invalid")),
        "{answer}"
    );
    let mut held = TlsConn::tls(mtls, Arc::clone(&alice_cfg)).await.unwrap();
    assert!(validated(&held.whoami("").await.unwrap()));
    let mut from_proxy = KeepAlive::plain(proxy).await;
    let answer = from_proxy.whoami(&client_cert_header(&bob)).await.unwrap();
    assert!(!validated(&answer), "{answer}");
    assert!(validated(
        &from_proxy
            .whoami(&client_cert_header(&alice))
            .await
            .unwrap()
    ));

    dir.put_ca(&next);
    served.reloader.reload().unwrap();

    // After: the new CA's client validates, the old CA's does not, and the
    // session alice holds from before does not resume past the change.
    let (answer, _, _) = whoami(mtls, &bob_cfg).await;
    assert!(validated(&answer), "{answer}");
    let (answer, _, resumed) = whoami(mtls, &alice_cfg).await;
    assert!(!resumed, "a session from before the reload resumed");
    assert_eq!(answer["resumed"], false);
    assert!(!validated(&answer), "{answer}");
    // Behind the proxy every request is a new client: the same connection
    // now validates against the new bundle.
    let answer = from_proxy.whoami(&client_cert_header(&bob)).await.unwrap();
    assert!(validated(&answer), "{answer}");
    let answer = from_proxy
        .whoami(&client_cert_header(&alice))
        .await
        .unwrap();
    assert!(!validated(&answer), "{answer}");
    // An mTLS connection keeps what its handshake established.
    assert!(validated(&held.whoami("").await.unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_that_do_not_load_are_logged_and_the_ones_in_use_stay_in_use() {
    logs();
    let pki = TestPki::new();
    let dir = TlsDir::new(&pki);
    let served = Served::start(&dir.files(0), &[MTLS]).await;
    let addr = served.addrs[0];
    let alice = pki.simple_client("alice");
    let alice_cfg = Arc::new(client_config(pki.ca_der(), Some(&alice)));
    let rotated = pki.server("rotated");
    let now = time::OffsetDateTime::now_utc();
    let expired = pki.client(
        "expired",
        certbound_pki::CertificateRequest {
            common_name: Some("localhost".into()),
            dns: vec!["localhost".into()],
            usage: certbound_pki::Usage::Server,
            validity: Some((
                now - time::Duration::days(30),
                now - time::Duration::days(1),
            )),
            ..certbound_pki::CertificateRequest::default()
        },
    );
    let original_cert = std::fs::read(&dir.cert).unwrap();
    let original_key = std::fs::read(&dir.key).unwrap();
    let original_ca = std::fs::read(&dir.ca).unwrap();
    let restore = || {
        dir.put(&dir.cert, &original_cert);
        dir.put(&dir.key, &original_key);
        dir.put(&dir.ca, &original_ca);
    };

    type Breakage<'a> = (&'a str, Box<dyn Fn() + 'a>, &'a Path, &'a str);
    let cases: Vec<Breakage<'_>> = vec![
        (
            "garbage certificate",
            Box::new(|| dir.put(&dir.cert, b"not a certificate")),
            &dir.cert,
            "no CERTIFICATE block found",
        ),
        (
            "key of another certificate",
            Box::new(|| dir.put(&dir.cert, rotated.issued.cert_pem.as_bytes())),
            &dir.key,
            "the key does not fit the certificate",
        ),
        (
            "garbage key",
            Box::new(|| dir.put(&dir.key, b"-----BEGIN PRIVATE KEY-----\nnope\n")),
            &dir.key,
            "no usable private key",
        ),
        (
            "empty CA bundle",
            Box::new(|| dir.put(&dir.ca, b"")),
            &dir.ca,
            "no CERTIFICATE block found",
        ),
        (
            "expired certificate",
            Box::new(|| dir.put_server(&expired)),
            &dir.cert,
            "the certificate expired at",
        ),
    ];
    for (what, break_it, named, reason) in &cases {
        break_it();
        match served.reloader.reload() {
            Err(TlsError::Pem { path, reason: why }) => {
                assert_eq!(path, *named, "{what}");
                assert!(why.contains(reason), "{what}: {why}");
            }
            other => panic!("{what}: expected a PEM error, got {other:?}"),
        }
        let logged = log_lines(&named.display().to_string());
        assert!(
            logged.iter().any(|l| l.contains("ERROR")
                && l.contains("TLS files not reloaded")
                && l.contains(reason)),
            "{what}: not logged: {logged:#?}"
        );
        let (answer, seen, _) = whoami(addr, &alice_cfg).await;
        assert_eq!(seen, original(&pki), "{what}: the old certificate is gone");
        assert!(
            validated(&answer),
            "{what}: the old CA bundle is gone: {answer}"
        );
        restore();
    }
    assert!(
        log_lines(&dir.marker())
            .iter()
            .all(|l| !l.contains("TLS files reloaded")),
        "a failed reload logged success"
    );

    dir.put_server(&rotated);
    served.reloader.reload().unwrap();
    let (_, seen, _) = whoami(addr, &alice_cfg).await;
    assert_eq!(seen, rotated.thumbprint().to_string());
    let serial = certbound_core::identity::serial_hex(&rotated.issued.cert_der).unwrap();
    let logged = log_lines(&dir.marker());
    let success = logged
        .iter()
        .find(|l| l.contains("TLS files reloaded"))
        .unwrap_or_else(|| panic!("no success line: {logged:#?}"));
    assert!(success.contains(" INFO "), "{success}");
    assert!(success.contains(&format!("serial={serial}")), "{success}");
    assert!(
        success.contains("subject=CN=localhost (rotated)"),
        "{success}"
    );
    assert!(success.contains("not_after="), "{success}");
    assert!(!success.contains("PRIVATE KEY"), "{success}");
}

/// Kubernetes' layout of a mounted secret: each version in its own
/// directory, `..data` pointing at the current one, and the names the
/// config uses pointing through `..data`.
struct SecretVolume {
    files: TlsDir,
    versions: AtomicUsize,
}

impl SecretVolume {
    fn new(pki: &TestPki) -> Self {
        let files = TlsDir::new(pki);
        let volume = Self {
            files,
            versions: AtomicUsize::new(0),
        };
        let read = |p: &Path| std::fs::read(p).unwrap();
        let (cert, key, ca) = (
            read(&volume.files.cert),
            read(&volume.files.key),
            read(&volume.files.ca),
        );
        for p in [&volume.files.cert, &volume.files.key, &volume.files.ca] {
            std::fs::remove_file(p).unwrap();
        }
        volume.publish(&cert, &key, &ca);
        for p in [&volume.files.cert, &volume.files.key, &volume.files.ca] {
            let name = p.file_name().unwrap();
            std::os::unix::fs::symlink(Path::new("..data").join(name), p).unwrap();
        }
        volume
    }

    /// Writes a new version and swaps `..data` to it in one rename.
    fn publish(&self, cert: &[u8], key: &[u8], ca: &[u8]) {
        let root = self.files.dir.path();
        let version = format!("..v{}", self.versions.fetch_add(1, Ordering::SeqCst));
        std::fs::create_dir(root.join(&version)).unwrap();
        for (name, contents) in [("tls.crt", cert), ("tls.key", key), ("ca.crt", ca)] {
            std::fs::write(root.join(&version).join(name), contents).unwrap();
        }
        std::os::unix::fs::symlink(&version, root.join("..data_tmp")).unwrap();
        std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swapped_secret_volume_is_picked_up_without_a_signal_and_a_half_written_pair_logs_once() {
    logs();
    let pki = TestPki::new();
    let volume = SecretVolume::new(&pki);
    // The proxy listener reads only the CA bundle: together with the mTLS
    // listener's three files, still nothing to reload until something changes.
    let served = Served::start(&volume.files.files(1), &[MTLS, PROXY]).await;
    served.watch();
    let addr = served.addrs[0];
    let alice = pki.simple_client("alice");
    let alice_cfg = Arc::new(client_config(pki.ca_der(), Some(&alice)));
    let ca = std::fs::read(pki.ca_path()).unwrap();
    let old_key = std::fs::read(pki.dir().join(certbound_pki::SERVER_KEY)).unwrap();
    let rotated = pki.server("rotated");

    let marker = volume.files.marker();
    let reloads = || {
        log_lines(&marker)
            .into_iter()
            .filter(|l| l.contains("TLS files reloaded"))
            .count()
    };
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        reloads(),
        0,
        "unchanged files reloaded: {:#?}",
        log_lines(&marker)
    );

    // The new certificate arrives without its key: one error, however many
    // polls see the pair, and the old certificate stays.
    volume.publish(rotated.issued.cert_pem.as_bytes(), &old_key, &ca);
    let errors = || {
        log_lines(&marker)
            .into_iter()
            .filter(|l| l.contains("ERROR") && l.contains("does not fit"))
            .count()
    };
    let start = tokio::time::Instant::now();
    while errors() == 0 && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(errors(), 1, "{:#?}", log_lines(&marker));
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(errors(), 1, "logged again: {:#?}", log_lines(&marker));
    assert_eq!(reloads(), 0, "{:#?}", log_lines(&marker));
    let (_, seen, _) = whoami(addr, &alice_cfg).await;
    assert_eq!(seen, original(&pki));

    // Then the key: the pair is served without anyone sending SIGHUP.
    volume.publish(
        rotated.issued.cert_pem.as_bytes(),
        rotated.issued.key_pem.as_bytes(),
        &ca,
    );
    let start = tokio::time::Instant::now();
    loop {
        let (answer, seen, _) = whoami(addr, &alice_cfg).await;
        if seen == rotated.thumbprint().to_string() {
            assert!(validated(&answer), "{answer}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the new certificate was not picked up: {:#?}",
            log_lines(&marker)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        log_lines(&marker)
            .iter()
            .any(|l| l.contains("TLS files reloaded") && l.contains("trigger=\"file change\"")),
        "{:#?}",
        log_lines(&marker)
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(reloads(), 1, "{:#?}", log_lines(&marker));
}
