//! The one test fixture for the certbound crates: a throw-away PKI on disk,
//! rustls client configurations, the external tools (curl, openssl, psql)
//! the tests drive, config templates, and JWT decoding. With feature
//! `server` it starts an authorization server and registers clients; with
//! `gateway` it starts a gateway and an echo upstream. Crates low in the
//! graph (certbound-tls) use it without features so they need not compile
//! the server. Dev-only; never shipped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use certbound_core::Thumbprint;
use certbound_pki::{
    CertificateAuthority, CertificateRequest, IssuedCertificate, KeyAlgorithm, WriteMode,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tempfile::TempDir;

mod answer;
pub mod config;
mod curl;
#[cfg(feature = "gateway")]
pub mod gateway;
mod jwt;
pub mod link;
#[cfg(feature = "tls")]
mod listener;
pub mod log;
mod raw;
#[cfg(feature = "server")]
pub mod server;

pub use answer::{assert_described_error, assert_error, assert_error_description};

/// The database a test's server runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    /// A SQLite file in the server's directory.
    Sqlite,
    /// A fresh PostgreSQL database (see [`TestPostgres`]).
    Postgres,
}

impl Backend {
    /// The storage URL of a server whose files live in `dir`, and the
    /// PostgreSQL database behind it, if any: keep that as long as the
    /// server runs (dropping it drops the database).
    pub fn storage(self, dir: &Path) -> (String, Option<TestPostgres>) {
        match self {
            Backend::Sqlite => (sqlite_url(dir), None),
            Backend::Postgres => {
                let pg = TestPostgres::create();
                (pg.url(), Some(pg))
            }
        }
    }
}

/// Declares the tests `NAME::sqlite` and `NAME::postgres`, each running the
/// async fn `body(Backend)` on that database. The calling crate depends on
/// tokio.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:path) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $body($crate::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $body($crate::Backend::Postgres).await;
            }
        }
    };
}
pub use curl::{Curl, CurlOutput, json_or_text};
pub use jwt::{jwt_claims, jwt_header};
#[cfg(feature = "tls")]
pub use listener::mtls_mode;
pub use raw::{assert_closed_unanswered, connect_tls, hold_connections, wait_closed};

/// The KEK file in a [`TestPki`]'s directory.
const KEK_FILE: &str = "kek";

/// Writes a new KEK (32 random bytes, base64url: what `certbound keys
/// new-kek` writes) to `path`, owner-only.
pub fn write_kek(path: &Path) {
    use base64::Engine;
    use ring::rand::SecureRandom;
    use std::os::unix::fs::PermissionsExt;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("random bytes");
    std::fs::write(
        path,
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
    )
    .expect("write the KEK");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod the KEK");
}

/// A CA, a loopback server certificate and any client certificates a test
/// asks for, written to a temporary directory removed on drop.
pub struct TestPki {
    dir: TempDir,
    ca: CertificateAuthority,
}

/// A certificate and key written to disk.
#[derive(Debug, Clone)]
pub struct TestIdentity {
    /// PEM certificate path.
    pub cert_path: PathBuf,
    /// PEM key path.
    pub key_path: PathBuf,
    /// The certificate and key in memory.
    pub issued: IssuedCertificate,
}

impl TestIdentity {
    /// `x5t#S256` of the certificate.
    pub fn thumbprint(&self) -> Thumbprint {
        Thumbprint::of_der(&self.issued.cert_der)
    }
}

impl TestPki {
    /// Runs `pki init` in a fresh temp dir (ECDSA P-256).
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("create temp dir");
        certbound_pki::init_dir(dir.path(), KeyAlgorithm::EcdsaP256, WriteMode::CreateNew)
            .expect("pki init");
        let ca = certbound_pki::load_ca(dir.path()).expect("load CA");
        write_kek(&dir.path().join(KEK_FILE));
        Self { dir, ca }
    }

    /// The key-encryption key file (`kek`), made with the PKI.
    pub fn kek_path(&self) -> PathBuf {
        self.dir().join(KEK_FILE)
    }

    /// The directory holding every file.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `ca.pem`.
    pub fn ca_path(&self) -> PathBuf {
        self.dir().join(certbound_pki::CA_CERT)
    }

    /// The server certificate chain for localhost/127.0.0.1/::1.
    pub fn server_chain(&self) -> Vec<CertificateDer<'static>> {
        load_certs(&self.dir().join(certbound_pki::SERVER_CERT))
    }

    /// The server private key.
    pub fn server_key(&self) -> PrivateKeyDer<'static> {
        load_key(&self.dir().join(certbound_pki::SERVER_KEY))
    }

    /// The CA certificate.
    pub fn ca_der(&self) -> CertificateDer<'static> {
        CertificateDer::from(self.ca.certificate().cert_der.clone())
    }

    /// Issues `name.pem`/`name.key` signed by this CA.
    pub fn client(&self, name: &str, request: CertificateRequest) -> TestIdentity {
        self.write(name, self.ca.issue(&request).expect("issue client"))
    }

    /// Issues a self-signed `name.pem`/`name.key`.
    pub fn self_signed(&self, name: &str, request: CertificateRequest) -> TestIdentity {
        self.write(
            name,
            certbound_pki::self_signed(&request).expect("self-sign client"),
        )
    }

    /// Issues `name.pem`/`name.key`: another server certificate for
    /// localhost, 127.0.0.1 and ::1 signed by this CA, as a rotation brings.
    pub fn server(&self, name: &str) -> TestIdentity {
        let request = CertificateRequest {
            common_name: Some(format!("localhost ({name})")),
            dns: vec!["localhost".into()],
            ip: vec![
                IpAddr::from([127, 0, 0, 1]),
                IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
            ],
            usage: certbound_pki::Usage::Server,
            ..CertificateRequest::default()
        };
        self.client(name, request)
    }

    /// A client certificate with just a CN.
    pub fn simple_client(&self, name: &str) -> TestIdentity {
        self.client(name, request_cn(name))
    }

    fn write(&self, name: &str, issued: IssuedCertificate) -> TestIdentity {
        let cert_path = self.dir().join(format!("{name}.pem"));
        let key_path = self.dir().join(format!("{name}.key"));
        certbound_pki::write_file(
            &cert_path,
            issued.cert_pem.as_bytes(),
            false,
            WriteMode::Overwrite,
        )
        .expect("write cert");
        certbound_pki::write_file(
            &key_path,
            issued.key_pem.as_bytes(),
            true,
            WriteMode::Overwrite,
        )
        .expect("write key");
        TestIdentity {
            cert_path,
            key_path,
            issued,
        }
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

/// The `Authorization` header line (for curl's `-H`) carrying `token`.
pub fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}")
}

/// A request with only a CN.
pub fn request_cn(cn: &str) -> CertificateRequest {
    CertificateRequest {
        common_name: Some(cn.to_owned()),
        ..CertificateRequest::default()
    }
}

/// A request with a CN and one IP SAN.
pub fn request_ip(cn: &str, ip: IpAddr) -> CertificateRequest {
    CertificateRequest {
        common_name: Some(cn.to_owned()),
        ip: vec![ip],
        ..CertificateRequest::default()
    }
}

/// Every certificate in a PEM file.
pub fn load_certs(path: &Path) -> Vec<CertificateDer<'static>> {
    let iter = CertificateDer::pem_file_iter(path).expect("open PEM");
    iter.map(|c| c.expect("parse PEM")).collect()
}

/// The private key in a PEM file.
pub fn load_key(path: &Path) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(path).expect("parse key PEM")
}

/// curl's arguments to trust `ca` and present the certificate `cert` with
/// the private key `key` (which tests may deliberately mismatch).
pub fn curl_tls_args(ca: &Path, cert: &Path, key: &Path) -> Vec<String> {
    let path = |p: &Path| p.to_string_lossy().into_owned();
    vec![
        "--cacert".into(),
        path(ca),
        "--cert".into(),
        path(cert),
        "--key".into(),
        path(key),
    ]
}

/// A rustls client trusting `ca`, optionally presenting `identity`.
pub fn client_config(
    ca: CertificateDer<'static>,
    identity: Option<&TestIdentity>,
) -> rustls::ClientConfig {
    client_config_versions(ca, identity, rustls::DEFAULT_VERSIONS)
}

/// As [`client_config`], limited to the given protocol versions.
pub fn client_config_versions(
    ca: CertificateDer<'static>,
    identity: Option<&TestIdentity>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).expect("add CA root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("protocol versions")
        .with_root_certificates(roots);
    match identity {
        Some(id) => builder
            .with_client_auth_cert(load_certs(&id.cert_path), load_key(&id.key_path))
            .expect("client auth cert"),
        None => builder.with_no_client_auth(),
    }
}

/// Fails the test (it never skips) when an external tool is missing: CI
/// installs every tool the suite needs, so absence is a setup bug.
pub fn require_tool(name: &str) -> PathBuf {
    // Daemons like nginx live in sbin, which a non-login PATH may lack.
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .chain(["/usr/sbin".into(), "/sbin".into()])
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    match found {
        Some(p) => p,
        None => panic!("{name} is not installed; run `bash .ci/run` once or apt-get install it"),
    }
}

/// Runs a command and returns (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("spawn command");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Where [`TestPostgres`] creates its databases unless `CERTBOUND_TEST_PG_URL` says otherwise.
pub const DEFAULT_TEST_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A fresh, uniquely named PostgreSQL database, dropped (even with open
/// connections) when this value is dropped.
///
/// Created with the `psql` client so the helper needs no async runtime. The
/// server is `postgres://postgres@127.0.0.1:5432/postgres` (trust auth) or
/// `$CERTBOUND_TEST_PG_URL`; an unreachable server fails the test, never
/// skips it.
pub struct TestPostgres {
    admin_url: String,
    name: String,
}

impl TestPostgres {
    /// Creates `certbound_test_<pid>_<nanos>_<n>`; panics if PostgreSQL is unreachable.
    pub fn create() -> TestPostgres {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);

        let admin_url =
            std::env::var("CERTBOUND_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_TEST_PG_URL.into());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let name = format!(
            "certbound_test_{}_{}_{}",
            std::process::id(),
            nanos,
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let (code, _, stderr) = psql(&admin_url, &format!("CREATE DATABASE \"{name}\""));
        if code != 0 {
            panic!(
                "cannot create test database on {admin_url} (psql exit {code}): {}\n\
                 PostgreSQL must be running for these tests; start it with \
                 `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
                 or point CERTBOUND_TEST_PG_URL at a server",
                stderr.trim()
            );
        }
        TestPostgres { admin_url, name }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A `postgres://` URL for this database.
    pub fn url(&self) -> String {
        with_database(&self.admin_url, &self.name)
    }

    /// [`TestPostgres::url`] with the server's host and port replaced by
    /// `addr` (a [`link::CuttableLink`] in front of it).
    pub fn url_through(&self, addr: std::net::SocketAddr) -> String {
        let url = self.url();
        let span = host_span(&url);
        format!("{}{addr}{}", &url[..span.start], &url[span.end..])
    }

    /// Where the server listens, for a [`link::CuttableLink`] to forward
    /// to: the URL's host (resolved with tokio when it is a name; the first
    /// address that accepts a connection) and port (5432 if it names none).
    pub async fn server_addr(&self) -> std::net::SocketAddr {
        let (host, port) = host_and_port(&self.admin_url);
        if let Ok(ip) = host.parse::<IpAddr>() {
            return std::net::SocketAddr::new(ip, port);
        }
        let resolved = tokio::net::lookup_host((host.as_str(), port))
            .await
            .unwrap_or_else(|e| panic!("cannot resolve the test PostgreSQL host {host}: {e}"));
        // `localhost` may resolve to ::1 first while the server listens on
        // 127.0.0.1 only: psql tries each address, and so do we.
        for addr in resolved {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return addr;
            }
        }
        panic!("no address of the test PostgreSQL host {host} accepts connections on port {port}")
    }
}

/// Where `url`'s `host[:port]` lies: after `scheme://` and any `user@`,
/// before the path or query.
fn host_span(url: &str) -> std::ops::Range<usize> {
    let authority = url.find("://").map_or(0, |i| i + 3);
    let end = url[authority..]
        .find(['/', '?'])
        .map_or(url.len(), |i| authority + i);
    let start = url[authority..end]
        .rfind('@')
        .map_or(authority, |i| authority + i + 1);
    start..end
}

/// The host (without IPv6 brackets) and port (5432 if none) of a
/// `postgres://` URL; panics on what a TCP link cannot stand in front of.
fn host_and_port(url: &str) -> (String, u16) {
    let hostport = &url[host_span(url)];
    let (host, port) = match hostport.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed
                .split_once(']')
                .unwrap_or_else(|| panic!("unclosed [ in the test PostgreSQL URL's host"));
            (host, after.strip_prefix(':'))
        }
        None => match hostport.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        },
    };
    assert!(
        !host.is_empty() && !host.contains(','),
        "the test PostgreSQL URL must name one TCP host (not a socket directory or a host list): \
         {hostport:?}"
    );
    let port = port.map_or(5432, |p| {
        p.parse()
            .unwrap_or_else(|_| panic!("bad port in the test PostgreSQL URL: {p:?}"))
    });
    (host.to_owned(), port)
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        let (code, _, stderr) = psql(&self.admin_url, &sql);
        // Never panic in drop (it would abort during unwinding); say why instead.
        if code != 0 {
            eprintln!(
                "warning: could not drop test database {}: {}",
                self.name,
                stderr.trim()
            );
        }
    }
}

/// Runs one SQL command with `psql` against `url`; never prompts for a password.
fn psql(url: &str, sql: &str) -> (i32, String, String) {
    let psql = require_tool("psql");
    run(Command::new(psql).env("PGCONNECT_TIMEOUT", "5").args([
        "-X",
        "-q",
        "-w",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        url,
        "-c",
        sql,
    ]))
}

/// `url` with its database (the path) replaced by `database`, keeping any query.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

/// A `sqlite://` URL for `certbound.db` in `dir` (the store creates the file).
pub fn sqlite_url(dir: &Path) -> String {
    let path = dir.join("certbound.db");
    let mut url = String::from("sqlite://");
    // Percent-encode everything but unreserved characters and `/`, so that
    // `?`, `#`, `%` or spaces in temp paths cannot change the URL's meaning.
    for byte in path.to_string_lossy().bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_replaces_the_path() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgresql://u:p@h?sslmode=disable", "t1"),
            "postgresql://u:p@h/t1?sslmode=disable"
        );
    }

    #[test]
    fn host_and_port_come_from_the_url() {
        let cases = [
            (
                "postgres://postgres@127.0.0.1:5432/postgres",
                "127.0.0.1",
                5432,
            ),
            (
                "postgres://u:p%40ss@db.example:6543/x?sslmode=disable",
                "db.example",
                6543,
            ),
            ("postgresql://localhost/x", "localhost", 5432),
            ("postgres://u@[::1]:5433/x", "::1", 5433),
            ("postgres://[::1]?sslmode=disable", "::1", 5432),
        ];
        for (url, host, port) in cases {
            assert_eq!(host_and_port(url), (host.to_owned(), port), "{url}");
        }
    }

    #[test]
    fn sqlite_url_encodes_special_characters() {
        assert_eq!(
            sqlite_url(Path::new("/tmp/a b?#")),
            "sqlite:///tmp/a%20b%3F%23/certbound.db"
        );
    }
}
