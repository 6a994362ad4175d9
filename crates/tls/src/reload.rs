//! Hot reload of a process's TLS files: the server certificate and key and
//! the client-CA bundle are read again on SIGHUP and when the files change.
//! New handshakes (and, behind a proxy, new requests) use the new files;
//! established connections keep what their handshake gave them; files that
//! do not load are logged and the ones in use stay in use.
//!
//! Changes are found by polling each file's metadata, not with inotify
//! (the `notify` crate): Kubernetes secret volumes swap a `..data` symlink
//! and cert-manager or an agent renames new files into place, which a watch
//! on the configured path sees as a deletion or not at all, while a `stat`
//! every few seconds sees every kind of replacement for the cost of three
//! system calls.

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use certbound_core::CertificateIdentity;
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use tracing::{debug, error, info, warn};

use crate::settings::BoundListener;
use crate::{ClientAuth, ClientCaBundle, ListenerMode, TlsError, TlsFiles};

/// A listener's mode as it stands now: read once per connection (one
/// atomic load), replaced whole by a reload, never changed in kind.
#[derive(Debug, Clone)]
pub struct ReloadableMode(Arc<ArcSwap<ListenerMode>>);

impl ReloadableMode {
    /// Starts with `mode`.
    pub fn new(mode: ListenerMode) -> Self {
        Self(Arc::new(ArcSwap::from_pointee(mode)))
    }

    /// The mode in force, to keep for a connection's handshake.
    pub fn current(&self) -> Arc<ListenerMode> {
        self.0.load_full()
    }

    /// The mode in force, borrowed for one request.
    pub(crate) fn load(&self) -> arc_swap::Guard<Arc<ListenerMode>> {
        self.0.load()
    }

    fn replace(&self, mode: ListenerMode) {
        self.0.store(Arc::new(mode));
    }
}

impl From<ListenerMode> for ReloadableMode {
    fn from(mode: ListenerMode) -> Self {
        Self::new(mode)
    }
}

/// What a proxied request is validated against if a mode had no bundle
/// (reloads keep a listener's kind, so a trusted-proxy mode always has one).
pub(crate) static NO_CLIENT_CAS: LazyLock<ClientCaBundle> = LazyLock::new(ClientCaBundle::empty);

impl ListenerMode {
    /// The bundle client chains are validated against, if this mode has one.
    pub fn client_cas(&self) -> Option<&ClientCaBundle> {
        match self {
            Self::MutualTls { client_cas, .. } | Self::TrustedProxy { client_cas, .. } => {
                Some(client_cas)
            }
            Self::Tls { .. } => None,
        }
    }

    fn is_https(&self) -> bool {
        !matches!(self, Self::TrustedProxy { .. })
    }

    /// The same kind of listener with the same proxy settings, built from
    /// `material` exactly as at start.
    fn reloaded(&self, material: &TlsMaterial) -> Result<Self, TlsError> {
        Ok(match self {
            Self::MutualTls { .. } => Self::MutualTls {
                config: material
                    .server_config(&ClientAuth::Request(material.client_cas.clone()))?,
                client_cas: material.client_cas.clone(),
            },
            Self::Tls { .. } => Self::Tls {
                config: material.server_config(&ClientAuth::None)?,
            },
            Self::TrustedProxy {
                proxies,
                header,
                address_header,
                ..
            } => Self::TrustedProxy {
                proxies: proxies.clone(),
                header: *header,
                client_cas: material.client_cas.clone(),
                address_header: address_header.clone(),
            },
        })
    }
}

/// The server certificate chain and its key, checked to belong together.
struct ServerIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

/// Everything a listener's TLS setup reads from files.
pub(crate) struct TlsMaterial {
    server: Option<ServerIdentity>,
    pub(crate) client_cas: ClientCaBundle,
}

impl TlsMaterial {
    /// Reads the client-CA bundle (if configured) and, when `server`, the
    /// certificate and key; every error names the file.
    pub(crate) fn load(files: &TlsFiles, server: bool) -> Result<Self, TlsError> {
        let client_cas = match &files.client_ca {
            Some(path) => ClientCaBundle::from_pem_file(path)?,
            None => ClientCaBundle::empty(),
        };
        let server = match (server, &files.cert, &files.key) {
            (false, _, _) => None,
            (true, Some(cert), Some(key)) => Some(ServerIdentity::load(cert, key)?),
            (true, _, _) => {
                return Err(TlsError::Setting {
                    key: "tls".into(),
                    message: "tls.cert and tls.key are required for HTTPS listeners".into(),
                });
            }
        };
        Ok(Self { server, client_cas })
    }

    /// A rustls configuration presenting the server certificate; each has
    /// its own session cache, so no session outlives the files it was made with.
    pub(crate) fn server_config(&self, auth: &ClientAuth) -> Result<Arc<ServerConfig>, TlsError> {
        match &self.server {
            Some(id) => crate::server_config(id.chain.clone(), id.key.clone_key(), auth),
            None => Err(TlsError::Setting {
                key: "tls".into(),
                message: "tls.cert and tls.key are required for HTTPS listeners".into(),
            }),
        }
    }
}

impl ServerIdentity {
    fn load(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let chain = crate::pem::load_certificates(cert)?;
        let private_key = crate::pem::load_private_key(key)?;
        // Checked here rather than left to rustls so the error names both
        // files: a reload between a certificate's and its key's rewrite
        // meets exactly this.
        CertifiedKey::from_der(
            chain.clone(),
            private_key.clone_key(),
            &crate::crypto_provider(),
        )
        .map_err(|e| TlsError::Pem {
            path: key.to_owned(),
            reason: format!(
                "the key does not fit the certificate {}: {e}",
                cert.display()
            ),
        })?;
        Ok(Self {
            chain,
            key: private_key,
        })
    }
}

/// What identifies one version of a file without reading it: a rename,
/// a rewrite, a `cp -p` or a swapped symlink each change one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    /// Where the path leads after every symlink (Kubernetes' `..data`).
    target: Option<PathBuf>,
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

/// The stamps of the files a listener was built from (`None` for a file
/// that could not be examined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileStamps(Vec<Option<FileStamp>>);

impl FileStamps {
    /// Examines the files that [`TlsMaterial::load`] with the same
    /// arguments reads.
    pub(crate) fn read(files: &TlsFiles, server: bool) -> Self {
        let server_files = [&files.cert, &files.key].into_iter().filter(|_| server);
        Self(
            server_files
                .chain([&files.client_ca])
                .flatten()
                .map(|path| stamp(path))
                .collect(),
        )
    }
}

fn stamp(path: &Path) -> Option<FileStamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some(FileStamp {
        target: std::fs::canonicalize(path).ok(),
        dev: meta.dev(),
        ino: meta.ino(),
        len: meta.len(),
        mtime: (meta.mtime(), meta.mtime_nsec()),
        ctime: (meta.ctime(), meta.ctime_nsec()),
    })
}

/// What asked for a reload; a request (SIGHUP) always gets an answer in
/// the log, a poll repeats no error it already logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Request,
    FileChange,
}

impl Trigger {
    fn name(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::FileChange => "file change",
        }
    }
}

/// What the poller knows about the files.
#[derive(Debug, Default)]
struct WatchState {
    /// The files the listeners were last built from (`None`: unknown).
    applied: Option<FileStamps>,
    /// The files at the previous poll: a change is acted on once it has
    /// held for one interval, so a certificate and key rewritten a moment
    /// apart are read as a pair.
    seen: Option<FileStamps>,
    /// The files and error of the last failed reload: the same files are
    /// not tried again, and the same error is not logged twice in a row.
    failed: Option<(FileStamps, String)>,
}

/// A process's TLS files and every listener built from them, reloaded
/// together: either all listeners get the new files or none does.
pub struct TlsReloader {
    files: TlsFiles,
    /// Whether some listener presents the server certificate.
    server: bool,
    listeners: Vec<(String, ReloadableMode)>,
    state: Mutex<WatchState>,
}

impl std::fmt::Debug for TlsReloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsReloader")
            .field("files", &self.files)
            .field(
                "listeners",
                &self.listeners.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl TlsReloader {
    /// Covers `listeners`, all bound with [`crate::bind_listener`] from `files`.
    pub fn new<'a>(
        files: &TlsFiles,
        listeners: impl IntoIterator<Item = &'a BoundListener>,
    ) -> Self {
        let mut covered = Vec::new();
        let mut current = true;
        let mut server = false;
        for l in listeners {
            let (key, mode, stamps) = l.reload_parts();
            let https = mode.current().is_https();
            server |= https;
            // Each as that listener read them: a proxy listener reads only the bundle.
            current &= *stamps == FileStamps::read(files, https);
            covered.push((key.to_owned(), mode.clone()));
        }
        // Files that changed since a listener read them (while binding)
        // are not known to be in use: the first polls reload them.
        let applied = current.then(|| FileStamps::read(files, server));
        Self {
            files: files.clone(),
            server,
            listeners: covered,
            state: Mutex::new(WatchState {
                seen: applied.clone(),
                applied,
                failed: None,
            }),
        }
    }

    /// Reads the files again and, if all of them load, gives every listener
    /// the new certificate and CA bundle; otherwise nothing changes. Logs
    /// the outcome (INFO or ERROR); this is what SIGHUP does.
    pub fn reload(&self) -> Result<(), TlsError> {
        let stamps = FileStamps::read(&self.files, self.server);
        self.attempt(stamps, Trigger::Request)
    }

    /// One poll: reloads when the files changed and then held still for one
    /// interval, unless these very files already failed. `None` when there
    /// was nothing to do.
    pub fn reload_if_changed(&self) -> Option<Result<(), TlsError>> {
        let now = FileStamps::read(&self.files, self.server);
        {
            let mut state = self.lock();
            if state.seen.as_ref() != Some(&now) {
                state.seen = Some(now);
                return None;
            }
            if state.applied.as_ref() == Some(&now)
                || state.failed.as_ref().is_some_and(|(s, _)| *s == now)
            {
                return None;
            }
        }
        Some(self.attempt(now, Trigger::FileChange))
    }

    /// Whether any file is configured for the covered listeners.
    pub fn has_files(&self) -> bool {
        (self.server && (self.files.cert.is_some() || self.files.key.is_some()))
            || self.files.client_ca.is_some()
    }

    /// Reloads on SIGHUP and, every `tls.reload_interval_secs` (unless 0),
    /// when the files changed, until `shutdown` completes. SIGHUP is
    /// listened for from this call on, so call it before telling anyone the
    /// process is ready: until then a SIGHUP would end the process.
    pub fn watch(
        self: Arc<Self>,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> impl std::future::Future<Output = std::io::Result<()>> + Send + 'static {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangup = match signal(SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                warn!(error = %e, "cannot listen for SIGHUP; TLS files reload only when they change");
                None
            }
        };
        let every = self.files.reload_interval().filter(|_| self.has_files());
        if self.has_files() {
            info!(
                listeners = ?self.listeners.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
                poll_secs = every.map_or(0, |d| d.as_secs()),
                "TLS files reload on SIGHUP{}",
                if every.is_some() { " and when they change" } else { "" }
            );
        }
        async move {
            let mut ticks = every.map(|period| {
                let mut t = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                t
            });
            let mut shutdown = std::pin::pin!(shutdown);
            loop {
                let trigger = tokio::select! {
                    () = &mut shutdown => return Ok(()),
                    Some(()) = next_signal(hangup.as_mut()) => Trigger::Request,
                    () = next_tick(ticks.as_mut()) => Trigger::FileChange,
                };
                if !self.has_files() {
                    info!("SIGHUP: no TLS files configured; nothing to reload");
                    continue;
                }
                // File reads and certificate parsing block; keep them off
                // the threads that serve connections.
                let reloader = Arc::clone(&self);
                let done = tokio::task::spawn_blocking(move || match trigger {
                    Trigger::Request => {
                        let _ = reloader.reload();
                    }
                    Trigger::FileChange => {
                        let _ = reloader.reload_if_changed();
                    }
                })
                .await;
                if let Err(e) = done {
                    error!(error = %e, "TLS reload task failed; the files in use stay in use");
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WatchState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Loads and swaps in the files whose stamps were `stamps` just before
    /// they were read, recording and logging the outcome.
    fn attempt(&self, stamps: FileStamps, trigger: Trigger) -> Result<(), TlsError> {
        // Held throughout, so a SIGHUP and a poll never interleave their swaps.
        let mut state = self.lock();
        match self.load_and_swap() {
            Ok(loaded) => {
                state.applied = Some(stamps.clone());
                state.seen = Some(stamps);
                state.failed = None;
                loaded.log(&self.files, &self.listeners, trigger);
                Ok(())
            }
            Err(e) => {
                let message = e.to_string();
                let repeated = state.failed.as_ref().is_some_and(|(_, m)| *m == message);
                if trigger == Trigger::Request || !repeated {
                    error!(
                        trigger = trigger.name(),
                        error = %message,
                        "TLS files not reloaded; the certificate and CA bundle in use stay in use"
                    );
                } else {
                    debug!(trigger = trigger.name(), error = %message, "TLS files still not loadable");
                }
                state.failed = Some((stamps, message));
                Err(e)
            }
        }
    }

    /// Builds every listener's new mode, then swaps them all in.
    fn load_and_swap(&self) -> Result<Loaded, TlsError> {
        let material = TlsMaterial::load(&self.files, self.server)?;
        let certificate = match (&material.server, &self.files.cert) {
            (Some(id), Some(path)) => Some(LoadedCertificate::check(&id.chain, path)?),
            _ => None,
        };
        let mut modes = Vec::with_capacity(self.listeners.len());
        for (_, live) in &self.listeners {
            modes.push(live.current().reloaded(&material)?);
        }
        for ((_, live), mode) in self.listeners.iter().zip(modes) {
            live.replace(mode);
        }
        Ok(Loaded {
            certificate,
            client_cas: material.client_cas.len(),
        })
    }
}

/// What a successful reload put in place, for its log line.
struct Loaded {
    certificate: Option<LoadedCertificate>,
    client_cas: usize,
}

/// The public facts of the new server certificate (never the key).
struct LoadedCertificate {
    subject: String,
    serial: String,
    not_after: String,
}

impl LoadedCertificate {
    /// Reads the end-entity certificate; refuses one that has expired,
    /// since the one in use may still be good.
    fn check(chain: &[CertificateDer<'_>], path: &Path) -> Result<Self, TlsError> {
        let err = |reason: String| TlsError::Pem {
            path: path.to_owned(),
            reason,
        };
        let end_entity = chain.first().ok_or_else(|| err("no certificate".into()))?;
        let identity = CertificateIdentity::from_der(end_entity)
            .map_err(|e| err(format!("unreadable certificate: {e}")))?;
        let not_after = identity
            .validity
            .not_after
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| identity.validity.not_after.to_string());
        let now = time::OffsetDateTime::now_utc();
        if identity.validity.not_after < now {
            return Err(err(format!("the certificate expired at {not_after}")));
        }
        // Issued with a clock ahead: every handshake would fail until then,
        // while the certificate in use may still be good.
        if now < identity.validity.not_before {
            let from = identity
                .validity
                .not_before
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| identity.validity.not_before.to_string());
            return Err(err(format!("the certificate is not valid before {from}")));
        }
        Ok(Self {
            subject: identity.subject.to_string(),
            serial: certbound_core::identity::serial_hex(end_entity).unwrap_or_default(),
            not_after,
        })
    }
}

impl Loaded {
    fn log(&self, files: &TlsFiles, listeners: &[(String, ReloadableMode)], trigger: Trigger) {
        let keys: Vec<&str> = listeners.iter().map(|(k, _)| k.as_str()).collect();
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        match &self.certificate {
            Some(c) => info!(
                trigger = trigger.name(),
                listeners = ?keys,
                cert = path(&files.cert),
                subject = %c.subject,
                serial = %c.serial,
                not_after = %c.not_after,
                client_ca = path(&files.client_ca),
                client_ca_certificates = self.client_cas,
                "TLS files reloaded"
            ),
            None => info!(
                trigger = trigger.name(),
                listeners = ?keys,
                client_ca = path(&files.client_ca),
                client_ca_certificates = self.client_cas,
                "TLS files reloaded"
            ),
        }
    }
}

async fn next_signal(signal: Option<&mut tokio::signal::unix::Signal>) -> Option<()> {
    match signal {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

async fn next_tick(ticks: Option<&mut tokio::time::Interval>) {
    match ticks {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Used by [`TlsFiles::reload_interval`]: the longest allowed interval.
pub(crate) const MAX_RELOAD_INTERVAL_SECS: u64 = 86_400;

impl TlsFiles {
    /// How often the files are checked for changes; `None` when only SIGHUP reloads.
    pub fn reload_interval(&self) -> Option<Duration> {
        (self.reload_interval_secs > 0)
            .then(|| Duration::from_secs(self.reload_interval_secs.min(MAX_RELOAD_INTERVAL_SECS)))
    }
}
