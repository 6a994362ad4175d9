//! Signing keys sealed at rest under a key-encryption key (KEK), as an
//! operator meets it: `certbound serve` on a dev data directory and on a
//! production config, `keys new-kek`, `keys rewrap`, a wrong or missing KEK,
//! and a key an earlier version stored unsealed. Real processes, real
//! SQLite and PostgreSQL, curl as the client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use certbound_server::kek::{KeyEncryption, KeyEncryptionKey};
use certbound_store::{SqlStore, Store, StoredSigningKey};
use certbound_testkit::{TestPki, TestPostgres, sqlite_url};
use common::{Serve, add_tls_client, certbound, claims, curl, write_config_named};

const MTLS: &str = "[listeners.mtls]\naddr = \"127.0.0.1:0\"";

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A config like every test's, with the `kek_file` line replaced by `keys`
/// (more `[keys]` entries, or nothing).
fn config_with_keys(dir: &Path, name: &str, pki: &TestPki, storage: &str, keys: &str) -> String {
    let path = write_config_named(dir, name, pki, "", storage, MTLS);
    let text = std::fs::read_to_string(&path).unwrap();
    let line = format!("kek_file = \"{}\"\n", pki.kek_path().display());
    assert!(text.contains(&line));
    std::fs::write(&path, text.replace(&line, &format!("{keys}\n"))).unwrap();
    path.to_string_lossy().into_owned()
}

fn kek_line(file: &Path) -> String {
    format!("kek_file = \"{}\"", file.display())
}

fn new_kek(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    let kek = KeyEncryptionKey::create_file(&path).unwrap();
    (path, kek.id().to_owned())
}

async fn stored_keys(url: &str) -> Vec<StoredSigningKey> {
    SqlStore::connect(url)
        .await
        .unwrap()
        .signing_keys()
        .await
        .unwrap()
}

/// Runs `certbound ARGS` in `dir`; asserts it succeeds and returns stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, out, err) = certbound(dir, args);
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

/// Runs `certbound serve --config CFG`, expecting it to refuse to start
/// with `needle` in its error; returns the error.
fn refuses_to_start(dir: &Path, cfg: &str, needle: &str) -> String {
    let (code, out, err) = certbound(dir, &["serve", "--config", cfg]);
    assert_eq!(code, 1, "serve should refuse: {out}{err}");
    assert!(err.contains(needle), "wanted {needle:?} in: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// A token for `alice` from a running server; its `kid`.
fn token_kid(serve: &Serve, pki: &TestPki) -> String {
    let alice = pki.simple_client("alice");
    let (code, issued) = curl(&[
        "--cacert",
        &pki.ca_path().to_string_lossy(),
        "--cert",
        &alice.cert_path.to_string_lossy(),
        "--key",
        &alice.key_path.to_string_lossy(),
        "-d",
        "grant_type=client_credentials&client_id=alice",
        &format!("{}/token", serve.mtls),
    ]);
    assert_eq!(code, 0, "{issued}");
    let token = issued["access_token"].as_str().unwrap_or_default();
    assert_eq!(claims(token)["sub"], "alice", "{issued}");
    let header = token.split('.').next().unwrap_or_default();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap_or_default().to_owned()
}

/// Whether one line `serve` printed while starting holds every one of `words`.
fn said_at_start(serve: &Serve, words: &[&str]) -> bool {
    serve
        .startup
        .iter()
        .any(|l| words.iter().all(|w| l.contains(w)))
}

/// Every byte of the SQLite database, its WAL included.
fn database_bytes(db: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(db).unwrap();
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    if let Ok(more) = std::fs::read(wal) {
        bytes.extend(more);
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Asserts that no private signing key is in the database file in any
/// form: PEM armour, the PEM's base64 lines, or the DER bytes; each key is
/// opened with `kek` to know what to look for.
async fn no_private_key_material(db: &Path, kek: &KeyEncryption) {
    let keys = stored_keys(&format!("sqlite://{}", db.display())).await;
    assert!(!keys.is_empty());
    let bytes = database_bytes(db);
    assert!(
        !contains(&bytes, b"PRIVATE KEY"),
        "PEM armour in the database"
    );
    for key in &keys {
        let pem = kek.open_private_key(key).unwrap();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(&body)
            .unwrap();
        for line in pem.lines().filter(|l| !l.starts_with("-----")) {
            assert!(
                !contains(&bytes, line.as_bytes()),
                "{}: PEM line in the database",
                key.kid
            );
        }
        // Any 16-byte run of the DER (the key scalar included).
        for chunk in der.chunks(16).filter(|c| c.len() == 16) {
            assert!(
                !contains(&bytes, chunk),
                "{}: DER bytes in the database",
                key.kid
            );
        }
    }
}

#[tokio::test]
async fn dev_first_start_makes_an_owner_only_kek_and_the_database_holds_no_private_key() {
    let tmp = tempfile::tempdir().unwrap();
    let serve = Serve::start(
        tmp.path(),
        &[],
        &[("CERTBOUND_LISTENERS__MTLS__ADDR", "127.0.0.1:0")],
    );
    let data = tmp.path().join("certbound-data");
    let kek_file = data.join("kek");
    assert_eq!(mode(&kek_file), 0o600);
    assert!(
        said_at_start(&serve, &["generated a key-encryption key", "owner-only"]),
        "first start says it made the KEK: {:#?}",
        serve.startup
    );
    let config = std::fs::read_to_string(data.join("certbound.toml")).unwrap();
    assert!(config.contains("kek_file = \"kek\""), "{config}");
    assert_eq!(serve.terminate(), Some(0));

    let kek = KeyEncryption::new(KeyEncryptionKey::read_file(&kek_file).unwrap(), vec![]);
    let keys = stored_keys(&format!("sqlite://{}", data.join("certbound.db").display())).await;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].kek_id.as_deref(), Some(kek.current_id()));
    no_private_key_material(&data.join("certbound.db"), &kek).await;

    // The KEK is reused, never replaced, on the next start.
    let before = std::fs::read(&kek_file).unwrap();
    let again = Serve::start(
        tmp.path(),
        &[],
        &[("CERTBOUND_LISTENERS__MTLS__ADDR", "127.0.0.1:0")],
    );
    assert!(
        !again
            .startup
            .iter()
            .any(|l| l.contains("generated a key-encryption key"))
    );
    assert_eq!(again.terminate(), Some(0));
    assert_eq!(std::fs::read(&kek_file).unwrap(), before);
}

#[test]
fn new_kek_writes_an_owner_only_file_once_or_prints_one() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ok(tmp.path(), &["keys", "new-kek", "--out", "kek"]);
    let file = tmp.path().join("kek");
    assert_eq!(mode(&file), 0o600);
    let id = KeyEncryptionKey::read_file(&file).unwrap().id().to_owned();
    assert!(out.contains(&format!("key-encryption key {id}")), "{out}");
    let before = std::fs::read(&file).unwrap();
    let (code, _, err) = certbound(tmp.path(), &["keys", "new-kek", "--out", "kek"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("creating the key-encryption key file"),
        "{err}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), before, "never overwritten");

    let printed = ok(tmp.path(), &["keys", "new-kek"]);
    let other = KeyEncryptionKey::from_text(&printed, "stdout").unwrap();
    assert_ne!(other.id(), id);
}

#[tokio::test]
async fn a_config_without_a_kek_refuses_to_start_and_creates_nothing() {
    let pki = TestPki::new();
    let tmp = tempfile::tempdir().unwrap();
    let storage = sqlite_url(tmp.path());
    let cfg = config_with_keys(tmp.path(), "prod.toml", &pki, &storage, "");
    let err = refuses_to_start(tmp.path(), &cfg, "key-encryption key: none is configured");
    assert!(err.contains("certbound keys new-kek --out FILE"), "{err}");
    let db = storage.trim_start_matches("sqlite://");
    assert!(!Path::new(db).exists(), "the database was not even created");
    let (code, _, err) = certbound(tmp.path(), &["config", "check", "--config", &cfg]);
    assert_eq!(code, 1);
    assert!(err.contains("key `keys.kek_file`"), "{err}");

    // Both a file and CERTBOUND_KEK: ambiguous, refused.
    let (file, _) = new_kek(tmp.path(), "kek");
    let both = config_with_keys(tmp.path(), "both.toml", &pki, &storage, &kek_line(&file));
    let (_, text) = KeyEncryptionKey::generate().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_certbound"))
        .current_dir(tmp.path())
        .args(["serve", "--config", &both])
        .env("CERTBOUND_KEK", &text)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("both keys.kek_file and CERTBOUND_KEK are set"),
        "{err}"
    );
    assert!(
        !err.contains(&text),
        "the KEK itself is never printed: {err}"
    );
    assert!(!Path::new(db).exists());
}

/// The operator's KEK rotation on one database: start under A, rotate the
/// signing key, a wrong KEK refused with nothing changed, rewrap to B with A
/// as previous, then B alone serves and A alone is refused.
async fn kek_rotation(pki: &TestPki, tmp: &Path, storage: &str) {
    let (a, a_id) = new_kek(tmp, "kek-a");
    let (b, b_id) = new_kek(tmp, "kek-b");
    let under_a = config_with_keys(tmp, "a.toml", pki, storage, &kek_line(&a));
    add_tls_client(tmp, &under_a, "alice", "read", &[]);
    let serve = Serve::start(tmp, &["--config", &under_a], &[]);
    let first_kid = token_kid(&serve, pki);
    assert_eq!(serve.terminate(), Some(0));
    ok(tmp, &["keys", "rotate", "--now", "--config", &under_a]);
    let listed = ok(tmp, &["keys", "list", "--config", &under_a]);
    assert_eq!(
        listed.matches(&format!("sealed under KEK {a_id}")).count(),
        2,
        "{listed}"
    );
    let before = stored_keys(storage).await;
    assert_eq!(before.len(), 2);

    // B alone opens nothing: serve and rewrap refuse, naming both KEKs, and write nothing.
    let only_b = config_with_keys(tmp, "b.toml", pki, storage, &kek_line(&b));
    let err = refuses_to_start(
        tmp,
        &only_b,
        &format!("sealed under key-encryption key {a_id}"),
    );
    assert!(
        err.contains(&b_id) && err.contains("keys.previous_kek_files"),
        "{err}"
    );
    let (code, _, err) = certbound(tmp, &["keys", "rewrap", "--config", &only_b]);
    assert_eq!(code, 1);
    assert!(err.contains("nothing was resealed"), "{err}");
    let (code, _, err) = certbound(tmp, &["keys", "rotate", "--config", &only_b]);
    assert_eq!(code, 1, "a KEK that opens no key must not seal a new one");
    assert!(
        err.contains(&format!("sealed under key-encryption key {a_id}")),
        "{err}"
    );
    assert_eq!(
        stored_keys(storage).await,
        before,
        "a wrong KEK changes nothing"
    );

    // B with A as previous: rewrap moves both keys; kids and JWKs stay.
    let rotating = config_with_keys(
        tmp,
        "rotating.toml",
        pki,
        storage,
        &format!(
            "{}\nprevious_kek_files = [\"{}\"]",
            kek_line(&b),
            a.display()
        ),
    );
    let out = ok(tmp, &["keys", "rewrap", "--config", &rotating]);
    assert!(
        out.contains(&format!(
            "resealed 2 of 2 signing keys under key-encryption key {b_id}"
        )),
        "{out}"
    );
    let after = stored_keys(storage).await;
    for (new, old) in after.iter().zip(&before) {
        assert_eq!((&new.kid, &new.public_jwk), (&old.kid, &old.public_jwk));
        assert_eq!(new.kek_id.as_deref(), Some(b_id.as_str()));
        assert_ne!(new.private_key, old.private_key);
    }
    let out = ok(tmp, &["keys", "rewrap", "--config", &only_b]);
    assert!(out.contains("resealed 0 of 2"), "already done: {out}");

    // B alone now serves, signing with the rotated key; A alone is refused.
    let serve = Serve::start(tmp, &["--config", &only_b], &[]);
    let kid = token_kid(&serve, pki);
    let active = after.iter().find(|k| k.retired_at.is_none()).unwrap();
    assert_eq!(kid, active.kid);
    assert_ne!(kid, first_kid);
    assert_eq!(serve.terminate(), Some(0));
    let served = stored_keys(storage).await;
    refuses_to_start(
        tmp,
        &under_a,
        &format!("sealed under key-encryption key {b_id}"),
    );
    assert_eq!(stored_keys(storage).await, served);
}

#[tokio::test]
async fn kek_rotation_on_sqlite() {
    let pki = TestPki::new();
    let tmp = tempfile::tempdir().unwrap();
    kek_rotation(&pki, tmp.path(), &sqlite_url(tmp.path())).await;
}

#[tokio::test]
async fn kek_rotation_on_postgres() {
    let pki = TestPki::new();
    let pg = TestPostgres::create();
    let tmp = tempfile::tempdir().unwrap();
    kek_rotation(&pki, tmp.path(), &pg.url()).await;
}

/// Stores a key as versions before sealing did: the PEM itself, no KEK id.
async fn insert_legacy_key(storage: &str) -> certbound_jose::GeneratedKey {
    let legacy = certbound_jose::generate(jsonwebtoken::Algorithm::ES256).unwrap();
    let store = SqlStore::connect(storage).await.unwrap();
    let inserted = store
        .insert_first_signing_key(&StoredSigningKey {
            kid: legacy.kid.clone(),
            alg: "ES256".into(),
            private_key: legacy.private_key_pem.clone(),
            kek_id: None,
            public_jwk: serde_json::to_string(&legacy.public_jwk).unwrap(),
            created_at: 1,
            activates_at: 1,
            retired_at: None,
            publish_until: None,
            max_token_ttl: 0,
            max_signing_lag: 0,
        })
        .await
        .unwrap();
    assert!(inserted);
    store.close().await;
    legacy
}

#[tokio::test]
async fn a_key_an_earlier_version_stored_unsealed_keeps_working_until_rewrap_seals_it() {
    let pki = TestPki::new();
    let tmp = tempfile::tempdir().unwrap();
    let storage = sqlite_url(tmp.path());
    let legacy = insert_legacy_key(&storage).await;

    let (kek_file, kek_id) = new_kek(tmp.path(), "kek");
    let cfg = config_with_keys(tmp.path(), "c.toml", &pki, &storage, &kek_line(&kek_file));
    add_tls_client(tmp.path(), &cfg, "alice", "read", &[]);
    let serve = Serve::start(tmp.path(), &["--config", &cfg], &[]);
    assert!(
        said_at_start(&serve, &["stored unsealed", "certbound keys rewrap"]),
        "start warns about the unsealed key: {:#?}",
        serve.startup
    );
    assert_eq!(token_kid(&serve, &pki), legacy.kid);
    assert_eq!(serve.terminate(), Some(0));
    let listed = ok(tmp.path(), &["keys", "list", "--config", &cfg]);
    assert!(
        listed.contains("UNSEALED (run `certbound keys rewrap`)"),
        "{listed}"
    );

    let out = ok(tmp.path(), &["keys", "rewrap", "--config", &cfg]);
    assert!(
        out.contains(&format!(
            "resealed 1 of 1 signing keys under key-encryption key {kek_id}"
        )),
        "{out}"
    );
    let db = PathBuf::from(storage.trim_start_matches("sqlite://"));
    let kek = KeyEncryption::new(KeyEncryptionKey::read_file(&kek_file).unwrap(), vec![]);
    no_private_key_material(&db, &kek).await;
    let serve = Serve::start(tmp.path(), &["--config", &cfg], &[]);
    assert!(!said_at_start(&serve, &["stored unsealed"]));
    assert_eq!(
        token_kid(&serve, &pki),
        legacy.kid,
        "the same key, now sealed"
    );
    drop(serve);
}

/// A rewrap while another connection reads the SQLite database (a running
/// server, say) cannot checkpoint the WAL, so the replaced key may remain in
/// the database's files: it still reseals, but warns; run again once the
/// reader is gone, it leaves no trace of the old key.
#[tokio::test]
async fn rewrap_warns_when_a_reader_keeps_the_old_key_in_the_database_files() {
    use sqlx::Connection;
    let pki = TestPki::new();
    let tmp = tempfile::tempdir().unwrap();
    let storage = sqlite_url(tmp.path());
    let legacy = insert_legacy_key(&storage).await;
    let (kek_file, _) = new_kek(tmp.path(), "kek");
    let cfg = config_with_keys(tmp.path(), "c.toml", &pki, &storage, &kek_line(&kek_file));
    let db = PathBuf::from(storage.trim_start_matches("sqlite://"));

    let mut reader = sqlx::AnyConnection::connect(&storage).await.unwrap();
    let mut read = reader.begin().await.unwrap();
    sqlx::query("SELECT COUNT(*) FROM signing_keys")
        .fetch_one(&mut *read)
        .await
        .unwrap();
    let (code, out, err) = certbound(tmp.path(), &["keys", "rewrap", "--config", &cfg]);
    assert_eq!(code, 0, "the rewrap itself succeeded: {err}");
    assert!(out.contains("resealed 1 of 1"), "{out}");
    assert!(
        err.contains("warning") && err.contains("-wal") && err.contains("certbound keys rewrap"),
        "{err}"
    );
    let pem_line = legacy.private_key_pem.lines().nth(1).unwrap();
    assert!(
        contains(&database_bytes(&db), pem_line.as_bytes()),
        "what the warning is about: the old key is still in the files"
    );

    read.rollback().await.unwrap();
    reader.close().await.unwrap();
    let (code, out, err) = certbound(tmp.path(), &["keys", "rewrap", "--config", &cfg]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("resealed 0 of 1"), "{out}");
    assert!(!err.contains("warning"), "{err}");
    let kek = KeyEncryption::new(KeyEncryptionKey::read_file(&kek_file).unwrap(), vec![]);
    no_private_key_material(&db, &kek).await;
}
