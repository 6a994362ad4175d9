use std::path::PathBuf;

use thiserror::Error;

/// Storage failures, classified so the HTTP edge can answer correctly:
/// `Unavailable` becomes 503 with `Retry-After`, `Conflict` a 4xx.
///
/// Each variant keeps the error it came from as its `source()`, so a caller
/// can still ask the driver (e.g. for a PostgreSQL SQLSTATE); the message
/// repeats the source's text so that a log line on its own says what failed.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database could not be reached or timed out; retrying may work.
    #[error("database unavailable: {source}")]
    Unavailable {
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A unique key is already taken.
    #[error("already exists: {taken}")]
    Conflict {
        /// Which key.
        taken: Taken,
        /// The driver's unique-violation error, when the database found it.
        #[source]
        source: Option<sqlx::Error>,
    },
    /// The storage URL is not one we support.
    #[error("invalid storage URL: {reason}; {ACCEPTED_URLS}")]
    InvalidUrl {
        /// What is wrong with it (never the URL itself: it may hold a password).
        reason: String,
        /// The driver's error, when it was the driver that refused the URL.
        #[source]
        source: Option<sqlx::Error>,
    },
    /// Running the embedded migrations failed.
    #[error("database migration failed: {source}")]
    Migration {
        /// The migrator's error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// The SQLite database file could not be created owner-only.
    #[error("unable to open the database file {}: {source}", .path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A signing key changed while it was being resealed (another rewrap
    /// ran at the same time); nothing was written.
    #[error(
        "signing key {kid} changed while it was being resealed; nothing was written, run it again"
    )]
    KeyChanged {
        /// The key.
        kid: String,
    },
    /// SQLite's truncating WAL checkpoint stayed busy (another connection,
    /// such as a running server, was reading): what it would have copied
    /// out of the WAL file, replaced values included, is still there.
    #[error(
        "the SQLite WAL checkpoint was still blocked by another connection after {attempts} attempts"
    )]
    CheckpointBusy {
        /// How many times it was tried.
        attempts: u32,
    },
    /// Any other database error (a bug or a corrupted database).
    #[error("database error: {source}")]
    Database {
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
}

/// What a [`StoreError::Conflict`] found already taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// A client is registered under this `client_id`.
    ClientId(String),
    /// A retired signing key already uses this `kid`.
    RetiredKid(String),
    /// A user already has this username.
    Username(String),
    /// Another unique key, in the database's words.
    Other(String),
}

impl std::fmt::Display for Taken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ClientId(id) => write!(f, "client_id {id:?}"),
            Self::RetiredKid(kid) => {
                write!(
                    f,
                    "signing key kid {kid:?} is already used by a retired key"
                )
            }
            Self::Username(name) => write!(f, "username {name:?}"),
            Self::Other(message) => f.write_str(message),
        }
    }
}

/// Named in every [`StoreError::InvalidUrl`].
pub(crate) const ACCEPTED_URLS: &str = "accepted forms are sqlite://PATH (created if missing), \
     sqlite::memory: and postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE \
     (or postgresql://...)";
