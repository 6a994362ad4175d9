//! Writing certificates and keys without clobbering or leaking them.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::PkiError;

/// Whether an existing file may be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Fail with [`PkiError::Exists`] if the file is there.
    CreateNew,
    /// Replace it (`--force`).
    Overwrite,
}

/// Writes `contents` to a new file; `secret` files get mode 0600 from the
/// moment they exist, so a key is never readable by others, even briefly.
pub fn write_file(
    path: &Path,
    contents: &[u8],
    secret: bool,
    mode: WriteMode,
) -> Result<(), PkiError> {
    let io = |source| PkiError::Io {
        what: "write",
        path: path.to_owned(),
        source,
    };
    if mode == WriteMode::Overwrite {
        // Remove rather than truncate: the new file must get the new mode, and
        // removing a symlink never writes through it.
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if secret { 0o600 } else { 0o644 })
        .open(path)
        .map_err(|e| {
            if e.kind() == ErrorKind::AlreadyExists {
                PkiError::Exists(path.to_owned())
            } else {
                io(e)
            }
        })?;
    file.write_all(contents).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Fails with the first of `paths` that exists, so a multi-file write is
/// refused before anything is written.
pub(crate) fn ensure_absent(paths: &[&Path], mode: WriteMode) -> Result<(), PkiError> {
    if mode == WriteMode::Overwrite {
        return Ok(());
    }
    match paths.iter().find(|p| p.symlink_metadata().is_ok()) {
        Some(p) => Err(PkiError::Exists(p.to_path_buf())),
        None => Ok(()),
    }
}
