use thiserror::Error;

/// Storage failures, classified so the HTTP edge can answer correctly:
/// `Unavailable` becomes 503 with `Retry-After`, `Conflict` a 4xx.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database could not be reached or timed out; retrying may work.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A unique key is already taken.
    #[error("already exists: {0}")]
    Conflict(String),
    /// The storage URL is not one we support.
    #[error("invalid storage URL: {0}")]
    InvalidUrl(String),
    /// Running the embedded migrations failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// Any other database error (a bug or a corrupted database).
    #[error("database error: {0}")]
    Database(String),
}
