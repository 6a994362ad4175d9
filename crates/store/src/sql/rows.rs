//! Rows read back into records: each record names its columns once, and
//! that one list gives both the `SELECT`/`INSERT` column text and the
//! row-to-record mapping, so the two cannot drift apart.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::errors::classify;
use crate::{
    RevokedJti, StoreError, StoredClient, StoredCode, StoredGrant, StoredInteraction,
    StoredRefreshToken, StoredSigningKey, StoredToken, StoredUser,
};

/// A record stored as one row of one table.
pub(super) trait Record: Sized {
    /// Its columns, comma-separated, in the order of the record's fields.
    const COLUMNS: &'static str;

    /// Reads the record from columns named `{prefix}{field}`.
    fn read(row: &AnyRow, prefix: &str) -> Result<Self, sqlx::Error>;

    /// Reads the record from columns named as its fields.
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Self::read(row, "").map_err(classify)
    }
}

/// How a field's value is kept in its column.
trait Column: Sized {
    /// Reads the value of column `name`.
    fn get(row: &AnyRow, name: &str) -> Result<Self, sqlx::Error>;
}

/// Types sqlx decodes as they are, on both engines.
macro_rules! plain_columns {
    ($($ty:ty),*) => {$(
        impl Column for $ty {
            fn get(row: &AnyRow, name: &str) -> Result<Self, sqlx::Error> {
                row.try_get(name)
            }
        }
    )*};
}

plain_columns!(String, Option<String>, i64, Option<i64>);

/// Flags are `BIGINT` 0/1: PostgreSQL's `BOOLEAN` has no SQLite twin through `Any`.
impl Column for bool {
    fn get(row: &AnyRow, name: &str) -> Result<Self, sqlx::Error> {
        row.try_get::<i64, _>(name).map(|v| v != 0)
    }
}

/// One field's column under a prefix (none for plain reads).
fn field<T: Column>(row: &AnyRow, prefix: &str, name: &str) -> Result<T, sqlx::Error> {
    if prefix.is_empty() {
        T::get(row, name)
    } else {
        T::get(row, &format!("{prefix}{name}"))
    }
}

/// Implements [`Record`] for a record whose columns are named as its fields.
macro_rules! record {
    ($record:ident { $first:ident $(, $rest:ident)* $(,)? }) => {
        impl Record for $record {
            const COLUMNS: &'static str =
                concat!(stringify!($first) $(, ", ", stringify!($rest))*);

            fn read(row: &AnyRow, prefix: &str) -> Result<Self, sqlx::Error> {
                Ok($record {
                    $first: field(row, prefix, stringify!($first))?,
                    $($rest: field(row, prefix, stringify!($rest))?,)*
                })
            }
        }
    };
}

record!(StoredClient {
    client_id,
    metadata,
    secret_hash,
    created_at,
});

record!(StoredSigningKey {
    kid,
    alg,
    private_key,
    kek_id,
    public_jwk,
    created_at,
    activates_at,
    retired_at,
    publish_until,
    max_token_ttl,
    max_signing_lag,
});

record!(StoredToken {
    token_hash,
    jti,
    client_id,
    subject,
    scope,
    audience,
    cnf_x5t_s256,
    issued_at,
    expires_at,
    revoked_at,
});

record!(RevokedJti {
    jti,
    expires_at,
    seq,
});

record!(StoredUser {
    user_id,
    username,
    password_hash,
    display_name,
    email,
    disabled,
    created_at,
    updated_at,
});

record!(StoredInteraction {
    interaction_hash,
    client_id,
    request,
    browser_hash,
    csrf_hash,
    user_id,
    auth_time,
    consented_scope,
    created_at,
    expires_at,
    completed_at,
    rejection,
});

record!(StoredCode {
    code_hash,
    client_id,
    user_id,
    redirect_uri,
    redirect_uri_given,
    scope,
    code_challenge,
    nonce,
    auth_time,
    created_at,
    expires_at,
    redeemed_at,
    grant_id,
});

record!(StoredGrant {
    grant_id,
    client_id,
    user_id,
    scope,
    cnf_x5t_s256,
    auth_time,
    created_at,
    expires_at,
    used_at,
    revoked_at,
});

record!(StoredRefreshToken {
    token_hash,
    grant_id,
    issued_at,
    expires_at,
    rotated_at,
    successor_hash,
    sealed_response,
});

/// `R`'s columns for a join, qualified by the table's `alias` and read back
/// as `{prefix}{column}` (under their own names when `prefix` is empty).
pub(super) fn qualified<R: Record>(alias: &str, prefix: &str) -> String {
    R::COLUMNS
        .split(", ")
        .map(|c| {
            if prefix.is_empty() {
                format!("{alias}.{c}")
            } else {
                format!("{alias}.{c} AS {prefix}{c}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}
