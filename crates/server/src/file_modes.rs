//! Files that hold secrets must be owner-only: the database holds the
//! private signing keys (whoever reads it can mint any token), the TLS key
//! the server's identity, the config possibly a database password.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tracing::warn;

use crate::Config;

/// Permission bits for group and others; any of them set is too open.
const GROUP_OTHER: u32 = 0o077;

/// The files of `config` (read from `config_path`) that hold secrets, each
/// with what it is: config, TLS key, and the SQLite database with its
/// `-wal`/`-shm` files.
pub fn secret_files(config: &Config, config_path: &Path) -> Vec<(&'static str, PathBuf)> {
    let mut files = vec![("config file", config_path.to_owned())];
    if let Some(key) = &config.tls.key {
        files.push(("TLS private key", key.clone()));
    }
    let keys = &config.keys;
    for kek in keys.kek_file.iter().chain(&keys.previous_kek_files) {
        files.push(("key-encryption key", kek.clone()));
    }
    if let Some(db) = certbound_store::sqlite_file(&config.storage.url) {
        for suffix in ["-wal", "-shm"] {
            let mut name = db.clone().into_os_string();
            name.push(suffix);
            files.push(("database file (holds the signing keys)", name.into()));
        }
        files.insert(1, ("database (holds the signing keys)", db));
    }
    files
}

/// The mode of `path` if group or others have any access to it; `None` if
/// it is owner-only or does not exist.
pub fn too_open(path: &Path) -> Option<u32> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    (mode & GROUP_OTHER != 0).then_some(mode)
}

/// Logs one warning line per secret file that group or others can access,
/// saying what to do. Run at start, before the server creates anything.
pub fn warn_if_too_open(config: &Config, config_path: &Path) {
    for (what, path) in secret_files(config, config_path) {
        if let Some(mode) = too_open(&path) {
            let shown = path.display();
            warn!(
                "{what} {shown} has mode {mode:04o}: group/others can read it; make it owner-only with: chmod 600 {shown}"
            );
        }
    }
}
