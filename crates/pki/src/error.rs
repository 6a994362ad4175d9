use std::path::PathBuf;

use thiserror::Error;

/// What went wrong creating, loading or writing certificates.
#[derive(Debug, Error)]
pub enum PkiError {
    /// Key generation or certificate signing failed inside rcgen.
    #[error("could not {what}: {source}")]
    Crypto {
        /// The step that failed.
        what: &'static str,
        /// The underlying error.
        source: rcgen::Error,
    },
    /// RSA key generation failed.
    #[error("could not generate an RSA key: {0}")]
    Rsa(String),
    /// A file already exists and `--force` was not given.
    #[error("{} already exists; pass --force to overwrite it", .0.display())]
    Exists(PathBuf),
    /// A file could not be read or written.
    #[error("could not {what} {}: {source}", .path.display())]
    Io {
        /// "read" or "write".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A request field is unusable.
    #[error("invalid {field}: {reason}")]
    InvalidRequest {
        /// The offending field (a CLI flag name).
        field: &'static str,
        /// Why, and what to do.
        reason: String,
    },
}

impl PkiError {
    pub(crate) fn crypto(what: &'static str) -> impl FnOnce(rcgen::Error) -> Self {
        move |source| Self::Crypto { what, source }
    }
}
