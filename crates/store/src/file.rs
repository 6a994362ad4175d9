//! The SQLite database file: where a URL puts it, and creating it owner-only.
//! It holds the private signing keys, so nobody but the owner may read it.

use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use percent_encoding::percent_decode_str;

use crate::StoreError;

/// The file a `sqlite://PATH[?…]` URL names (percent-decoded, as sqlx reads
/// it); `None` for in-memory databases and other URLs.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://")?;
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, query),
        None => (rest, ""),
    };
    if path.is_empty() || path == ":memory:" || query.split('&').any(|p| p == "mode=memory") {
        return None;
    }
    let bytes: Vec<u8> = percent_decode_str(path).collect();
    Some(PathBuf::from(OsStr::from_bytes(&bytes)))
}

/// Creates `path` empty with mode 0600 if it does not exist, before SQLite
/// opens it: SQLite would create it with the process umask (often 0644), and
/// it gives the `-wal` and `-shm` files the database file's permissions.
/// An existing file is left as it is (`certbound serve` warns about it).
pub(crate) fn create_private(path: &Path) -> Result<(), StoreError> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        // A missing directory: SQLite says so in its own words (CANTOPEN).
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        // A configuration problem, not worth retrying.
        Err(source) => Err(StoreError::File {
            path: path.to_owned(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_of_a_url_is_decoded_like_sqlx_reads_it() {
        assert_eq!(
            sqlite_file("sqlite:///tmp/a%20b%3F/x.db?mode=rwc"),
            Some(PathBuf::from("/tmp/a b?/x.db"))
        );
        assert_eq!(
            sqlite_file("sqlite://data/x.db"),
            Some(PathBuf::from("data/x.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("sqlite://:memory:"), None);
        assert_eq!(sqlite_file("sqlite://x.db?mode=memory"), None);
        assert_eq!(sqlite_file("postgres://u@h/d"), None);
    }
}
