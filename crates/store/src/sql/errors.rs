//! sqlx errors mapped onto the [`StoreError`] classes the HTTP edge acts on.

use sqlx::error::DatabaseError;
use sqlx::migrate::MigrateError;

use crate::{StoreError, Taken};

/// Errors from the first connection: sqlx rejecting the URL is `InvalidUrl`.
pub(super) fn connect_error(err: sqlx::Error) -> StoreError {
    match err {
        sqlx::Error::Configuration(e) => StoreError::InvalidUrl {
            reason: e.to_string(),
            source: Some(sqlx::Error::Configuration(e)),
        },
        other => classify(other),
    }
}

/// Migration failures are `Migration`, unless the database just went away.
pub(super) fn migrate_error(err: MigrateError) -> StoreError {
    match err {
        MigrateError::Execute(e) if is_unavailable(&e) => StoreError::Unavailable { source: e },
        source => StoreError::Migration { source },
    }
}

/// Maps a sqlx error onto the [`StoreError`] classes the HTTP edge acts on.
pub(super) fn classify(err: sqlx::Error) -> StoreError {
    if is_unavailable(&err) {
        return StoreError::Unavailable { source: err };
    }
    match err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict {
            taken: Taken::Other(db.message().to_owned()),
            source: Some(sqlx::Error::Database(db)),
        },
        sqlx::Error::Migrate(e) => migrate_error(*e),
        source => StoreError::Database { source },
    }
}

/// Whether retrying later may succeed: the database is unreachable, busy
/// or going away, rather than refusing this statement.
fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => !db.is_unique_violation() && is_transient(db.as_ref()),
        _ => false,
    }
}

/// Database errors that say "busy or going away, try again" rather than
/// "this statement is wrong".
fn is_transient(db: &dyn DatabaseError) -> bool {
    let Some(code) = db.code() else {
        return false;
    };
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // Extended result code; the primary code is its low byte:
        // SQLITE_BUSY (5, busy_timeout elapsed) or SQLITE_LOCKED (6).
        return code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6));
    }
    if db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some()
    {
        // Class 08: connection exception; 40001/40P01: serialization failure
        // and deadlock; 53300: too many connections; 57P01..03: shutdown.
        // Connection-time refusals an operator fixes without restarting us:
        // 55000 (database not accepting connections), 3D000 (database
        // missing), class 28 (credentials rejected).
        return code.starts_with("08")
            || code.starts_with("28")
            || matches!(
                &*code,
                "40001" | "40P01" | "53300" | "57P01" | "57P02" | "57P03" | "55000" | "3D000"
            );
    }
    false
}
