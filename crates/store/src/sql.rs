//! [`SqlStore`]: the [`Store`] on SQLite or PostgreSQL through sqlx's `Any`
//! driver, with one migration set and one set of SQL statements.
//!
//! Every statement is parameterised with `$1, $2, ...` placeholders, which
//! both engines accept through `Any` (SQLite reads `$N` as "parameter N").
//! Values are only ever bound, never formatted into SQL text.

use std::sync::{Arc, Once};
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Row};

mod errors;
mod grants;
mod rows;
mod url;
mod users;

use errors::{classify, connect_error, migrate_error};
use rows::Record;
use url::{Backend, parse_url};

use crate::{
    ResealedKey, RevokedJti, Store, StoreError, StoredClient, StoredSigningKey, StoredToken, Taken,
};

/// The embedded schema (`crates/store/migrations`), identical on both engines.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Guards the process-wide `Any` driver registration.
static INSTALL_DRIVERS: Once = Once::new();

/// How many database connections one instance keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolSize {
    /// At most this many (`None`: 16 on PostgreSQL, 8 on SQLite).
    pub max: Option<u32>,
    /// At least this many, opened at start and kept open: a fixed-size pool
    /// when equal to `max`.
    pub min: u32,
}

/// How long a caller waits for a pooled connection (or for the first
/// connection at start-up) before getting [`StoreError::Unavailable`].
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// SQLite serialises writers anyway; a few readers are plenty.
pub const SQLITE_MAX_CONNECTIONS: u32 = 8;
/// Per instance; several instances share one PostgreSQL server.
pub const POSTGRES_MAX_CONNECTIONS: u32 = 16;

/// Tries of the truncating WAL checkpoint after a rewrap, [`CHECKPOINT_RETRY_SLEEP`]
/// apart: about 5 s in all, as long as the busy timeout it used to wait.
const CHECKPOINT_ATTEMPTS: u32 = 20;
/// The pause between tries.
const CHECKPOINT_RETRY_SLEEP: Duration = Duration::from_millis(250);

/// What `AnyConnection::backend_name()` returns for SQLite.
const SQLITE_BACKEND_NAME: &str = "SQLite";

/// Run on every new SQLite connection; `busy_timeout` first so that switching
/// to WAL waits for other connections instead of failing.
const SQLITE_PRAGMAS: [&str; 3] = [
    "PRAGMA busy_timeout = 5000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA foreign_keys = ON",
];

/// Inserts a key as the newest one, signing from its `activates_at`;
/// `retired_at`/`publish_until` are NULL.
const INSERT_ACTIVE_KEY: &str = "INSERT INTO signing_keys \
     (kid, alg, private_key, kek_id, public_jwk, created_at, activates_at, retired_at, publish_until) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL)";

/// The [`Store`] on SQLite or PostgreSQL; cloning shares the connection pool.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    /// SQLite only: one writer at a time within this process (see [`SqlStore::writing`]).
    writer: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl SqlStore {
    /// Connects to `sqlite://PATH`, `sqlite::memory:` or `postgres://...` and runs the migrations.
    ///
    /// A missing SQLite file is created (`mode=rwc` unless the URL gives a
    /// `mode`). Every SQLite connection uses WAL, a 5 s busy timeout and
    /// foreign keys. An unreachable server yields [`StoreError::Unavailable`]
    /// after about 5 s; an unsupported URL [`StoreError::InvalidUrl`].
    pub async fn connect(url: &str) -> Result<SqlStore, StoreError> {
        Self::connect_with(url, PoolSize::default()).await
    }

    /// [`SqlStore::connect`] with a pool of `size` (in-memory SQLite keeps
    /// its single connection whatever `size` says).
    pub async fn connect_with(url: &str, size: PoolSize) -> Result<SqlStore, StoreError> {
        let (backend, url) = parse_url(url)?;
        INSTALL_DRIVERS.call_once(sqlx::any::install_default_drivers);
        // The file holds the private signing keys: create it owner-only
        // before SQLite does (with the umask). Only where SQLite may create it.
        let may_create = !url.split_once('?').is_some_and(|(_, q)| {
            q.split('&')
                .any(|p| p.strip_prefix("mode=").is_some_and(|m| m != "rwc"))
        });
        if let Some(path) = crate::file::sqlite_file(&url).filter(|_| may_create) {
            crate::file::create_private(&path)?;
        }

        let options = match backend {
            Backend::Sqlite | Backend::Postgres => {
                let default_max = match backend {
                    Backend::Postgres => POSTGRES_MAX_CONNECTIONS,
                    _ => SQLITE_MAX_CONNECTIONS,
                };
                let max = size.max.unwrap_or(default_max).max(1);
                AnyPoolOptions::new()
                    .max_connections(max)
                    .min_connections(size.min.min(max))
            }
            Backend::SqliteMemory => AnyPoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None),
        };
        let pool = options
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    if conn.backend_name() == SQLITE_BACKEND_NAME {
                        for pragma in SQLITE_PRAGMAS {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(connect_error)?;

        if let Err(e) = MIGRATOR.run(&pool).await {
            pool.close().await;
            return Err(migrate_error(e));
        }
        let writer = match backend {
            Backend::Postgres => None,
            Backend::Sqlite | Backend::SqliteMemory => Some(Arc::new(tokio::sync::Mutex::new(()))),
        };
        let store = SqlStore {
            pool,
            backend,
            writer,
        };
        tracing::info!(
            backend = store.backend(),
            "storage connected, schema up to date"
        );
        Ok(store)
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite | Backend::SqliteMemory => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// Closes every pooled connection; later calls fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Held for the whole of every write: SQLite allows one writer at a time,
    /// and a second one that finds the database locked waits in SQLite's busy
    /// handler, which sleeps in steps of milliseconds. Queueing on an async
    /// mutex instead costs microseconds. Other processes (the CLI) still meet
    /// the busy handler, rarely. PostgreSQL locks rows itself: `None`.
    async fn writing(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.writer {
            Some(writer) => Some(writer.lock().await),
            None => None,
        }
    }

    /// Runs one statement on its own, holding the writer lock (see
    /// [`SqlStore::writing`]); whether it changed any row.
    async fn write(&self, query: Query<'_>) -> Result<bool, StoreError> {
        self.write_or(query, classify).await
    }

    /// As [`SqlStore::write`], with errors mapped by `on_error`.
    async fn write_or(
        &self,
        query: Query<'_>,
        on_error: impl FnOnce(sqlx::Error) -> StoreError,
    ) -> Result<bool, StoreError> {
        let _writing = self.writing().await;
        let done = query.execute(&self.pool).await.map_err(on_error)?;
        Ok(done.rows_affected() > 0)
    }

    /// SQLite: copies the WAL into the database file and truncates it, so
    /// pages a `VACUUM` replaced leave the WAL file too. Another connection
    /// reading (a running server) blocks that; the checkpoint says so in
    /// its `busy` column rather than failing, so it is read and retried,
    /// then reported as [`StoreError::CheckpointBusy`].
    async fn checkpoint_wal(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(classify)?;
        // No busy handler: each try answers at once and the pauses are ours
        // (a blocked try would otherwise sleep in SQLite for the whole 5 s
        // busy timeout). Closed afterwards rather than pooled without one.
        conn.close_on_drop();
        sqlx::query("PRAGMA busy_timeout = 0")
            .execute(&mut *conn)
            .await
            .map_err(classify)?;
        for attempt in 1..=CHECKPOINT_ATTEMPTS {
            // One row: busy (0 or 1), WAL frames, frames checkpointed.
            let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&mut *conn)
                .await
                .map_err(classify)?;
            let busy: i64 = row.try_get(0).map_err(classify)?;
            if busy == 0 {
                return Ok(());
            }
            if attempt < CHECKPOINT_ATTEMPTS {
                tokio::time::sleep(CHECKPOINT_RETRY_SLEEP).await;
            }
        }
        Err(StoreError::CheckpointBusy {
            attempts: CHECKPOINT_ATTEMPTS,
        })
    }

    /// The record of `table` whose `key` column holds `value`, if any.
    async fn fetch_by<R: Record>(
        &self,
        table: &str,
        key: &str,
        value: &str,
    ) -> Result<Option<R>, StoreError> {
        let sql = format!("SELECT {} FROM {table} WHERE {key} = $1", R::COLUMNS);
        let row = sqlx::query(&sql)
            .bind(value)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        row.as_ref().map(R::from_row).transpose()
    }

    /// Every record of `from` (a table, with any `ORDER BY`).
    async fn fetch_all<R: Record>(&self, from: &str) -> Result<Vec<R>, StoreError> {
        let sql = format!("SELECT {} FROM {from}", R::COLUMNS);
        let rows = sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await
            .map_err(classify)?;
        rows.iter().map(R::from_row).collect()
    }

    /// The active signing key's `kid`, if any.
    async fn active_kid(&self) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT kid FROM signing_keys WHERE retired_at IS NULL")
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        row.map(|r| r.try_get::<String, _>("kid"))
            .transpose()
            .map_err(classify)
    }
}

#[async_trait::async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(classify)
    }

    async fn create_client(&self, client: &StoredClient) -> Result<(), StoreError> {
        let _writing = self.writing().await;
        let sql = format!(
            "INSERT INTO clients ({}) VALUES ($1, $2, $3, $4)",
            StoredClient::COLUMNS
        );
        // Writes first, so SQLite takes the write lock at once (see rotate_signing_key).
        let mut tx = self.pool.begin().await.map_err(classify)?;
        sqlx::query(&sql)
            .bind(client.client_id.as_str())
            .bind(client.metadata.as_str())
            .bind(client.secret_hash.as_deref())
            .bind(client.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| match classify(e) {
                StoreError::Conflict { source, .. } => StoreError::Conflict {
                    taken: Taken::ClientId(client.client_id.clone()),
                    source,
                },
                other => other,
            })?;
        bump_client_generation(&mut tx).await?;
        tx.commit().await.map_err(classify)
    }

    async fn client(&self, client_id: &str) -> Result<Option<StoredClient>, StoreError> {
        self.fetch_by("clients", "client_id", client_id).await
    }

    async fn clients(&self) -> Result<Vec<StoredClient>, StoreError> {
        let mut clients: Vec<StoredClient> = self.fetch_all("clients ORDER BY client_id").await?;
        // PostgreSQL orders text by the database collation, SQLite by bytes;
        // re-sort so both backends return the same (byte-wise) order.
        clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Ok(clients)
    }

    async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError> {
        let _writing = self.writing().await;
        let mut tx = self.pool.begin().await.map_err(classify)?;
        let query = sqlx::query("DELETE FROM clients WHERE client_id = $1").bind(client_id);
        if !changed(&mut tx, query).await? {
            return Ok(false);
        }
        bump_client_generation(&mut tx).await?;
        tx.commit().await.map_err(classify)?;
        Ok(true)
    }

    async fn client_generation(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT generation FROM client_generation WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(classify)?;
        row.try_get::<i64, _>("generation").map_err(classify)
    }

    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        let mut keys: Vec<StoredSigningKey> = self
            .fetch_all("signing_keys ORDER BY created_at DESC, kid DESC")
            .await?;
        // Same order on both backends whatever the collation (see `clients`).
        keys.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.kid.cmp(&a.kid))
        });
        Ok(keys)
    }

    /// `key.retired_at`/`publish_until` are ignored: the key goes in active.
    async fn insert_first_signing_key(&self, key: &StoredSigningKey) -> Result<bool, StoreError> {
        let _writing = self.writing().await;
        // Without a conflict target, DO NOTHING covers every unique index,
        // including `signing_keys_one_active`: when several instances start
        // at once, the index lets exactly one insert through.
        let sql = format!("{INSERT_ACTIVE_KEY} ON CONFLICT DO NOTHING");
        let done = bind_key(sqlx::query(&sql), key)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        if done.rows_affected() > 0 {
            return Ok(true);
        }
        // Nothing inserted: either a key is active (the normal "already
        // initialised" case) or the kid belongs to a retired key.
        match self.active_kid().await? {
            Some(_) => Ok(false),
            None => Err(StoreError::Conflict {
                taken: Taken::RetiredKid(key.kid.clone()),
                source: None,
            }),
        }
    }

    /// `key.retired_at`/`publish_until` are ignored: the key goes in active.
    /// Under two concurrent rotations one fails with [`StoreError::Conflict`].
    async fn rotate_signing_key(
        &self,
        key: &StoredSigningKey,
        retired_at: i64,
        publish_until: i64,
        margin: i64,
    ) -> Result<(), StoreError> {
        let _writing = self.writing().await;
        // The first statement writes, so SQLite takes the write lock at once
        // (a read first could fail with SQLITE_BUSY on upgrade in WAL mode).
        // The recorded use is read in the same statement, so a value recorded
        // before the rotation commits is never missed.
        let mut tx = self.pool.begin().await.map_err(classify)?;
        sqlx::query(
            "UPDATE signing_keys SET retired_at = $1, publish_until = \
             CASE WHEN $1 + max_token_ttl + max_signing_lag + $3 > $2 \
             THEN $1 + max_token_ttl + max_signing_lag + $3 ELSE $2 END \
             WHERE retired_at IS NULL OR retired_at > $1",
        )
        .bind(retired_at)
        .bind(publish_until)
        .bind(margin)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        bind_key(sqlx::query(INSERT_ACTIVE_KEY), key)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        // On any error above, dropping `tx` rolls back.
        tx.commit().await.map_err(classify)
    }

    async fn reseal_signing_keys(&self, resealed: &[ResealedKey]) -> Result<u64, StoreError> {
        let _writing = self.writing().await;
        let mut tx = self.pool.begin().await.map_err(classify)?;
        for key in resealed {
            // Compare-and-set on the sealed value: a concurrent rewrap or
            // rotation makes this one write nothing rather than clobber it.
            let done = sqlx::query(
                "UPDATE signing_keys SET private_key = $1, kek_id = $2 \
                 WHERE kid = $3 AND private_key = $4",
            )
            .bind(key.private_key.as_str())
            .bind(key.kek_id.as_str())
            .bind(key.kid.as_str())
            .bind(key.replaces.as_str())
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
            if done.rows_affected() != 1 {
                // Dropping `tx` rolls back what this call already wrote.
                return Err(StoreError::KeyChanged {
                    kid: key.kid.clone(),
                });
            }
        }
        tx.commit().await.map_err(classify)?;
        Ok(u64::try_from(resealed.len()).unwrap_or(u64::MAX))
    }

    async fn compact_signing_keys(&self) -> Result<(), StoreError> {
        let _writing = self.writing().await;
        let vacuum = match self.backend {
            Backend::Sqlite | Backend::SqliteMemory => "VACUUM",
            Backend::Postgres => "VACUUM FULL signing_keys",
        };
        sqlx::query(vacuum)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        match self.backend {
            Backend::Sqlite => self.checkpoint_wal().await,
            // An in-memory database has no WAL file.
            Backend::SqliteMemory | Backend::Postgres => Ok(()),
        }
    }

    async fn record_key_use(
        &self,
        kid: &str,
        token_ttl: i64,
        signing_lag: i64,
        margin: i64,
    ) -> Result<(), StoreError> {
        // CASE rather than MAX()/GREATEST(): the same SQL on both engines,
        // and atomic per row, so concurrent instances only ever raise it.
        // Column references on the right are the row's values before the
        // update, on both engines.
        let query = sqlx::query(
            "UPDATE signing_keys SET \
             max_token_ttl = CASE WHEN max_token_ttl < $2 THEN $2 ELSE max_token_ttl END, \
             max_signing_lag = CASE WHEN max_signing_lag < $3 THEN $3 ELSE max_signing_lag END, \
             publish_until = CASE WHEN retired_at IS NULL THEN publish_until ELSE \
               CASE WHEN publish_until > retired_at \
                 + (CASE WHEN max_token_ttl < $2 THEN $2 ELSE max_token_ttl END) \
                 + (CASE WHEN max_signing_lag < $3 THEN $3 ELSE max_signing_lag END) + $4 \
               THEN publish_until ELSE retired_at \
                 + (CASE WHEN max_token_ttl < $2 THEN $2 ELSE max_token_ttl END) \
                 + (CASE WHEN max_signing_lag < $3 THEN $3 ELSE max_signing_lag END) + $4 \
               END END \
             WHERE kid = $1 AND (max_token_ttl < $2 OR max_signing_lag < $3)",
        )
        .bind(kid)
        .bind(token_ttl)
        .bind(signing_lag)
        .bind(margin);
        self.write(query).await?;
        Ok(())
    }

    async fn insert_opaque_token(&self, token: &StoredToken) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO opaque_tokens ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            StoredToken::COLUMNS
        );
        let query = sqlx::query(&sql)
            .bind(token.token_hash.as_str())
            .bind(token.jti.as_str())
            .bind(token.client_id.as_str())
            .bind(token.subject.as_str())
            .bind(token.scope.as_str())
            .bind(token.audience.as_str())
            .bind(token.cnf_x5t_s256.as_deref())
            .bind(token.issued_at)
            .bind(token.expires_at)
            .bind(token.revoked_at);
        self.write(query).await.map(|_| ())
    }

    async fn opaque_token(&self, token_hash: &str) -> Result<Option<StoredToken>, StoreError> {
        self.fetch_by("opaque_tokens", "token_hash", token_hash)
            .await
    }

    async fn revoke_opaque_token(&self, token_hash: &str, at: i64) -> Result<bool, StoreError> {
        let query = sqlx::query(
            "UPDATE opaque_tokens SET revoked_at = $2 \
             WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(token_hash)
        .bind(at);
        self.write(query).await
    }

    async fn revoke_jti(
        &self,
        jti: &str,
        client_id: &str,
        expires_at: i64,
        at: i64,
    ) -> Result<(), StoreError> {
        let _writing = self.writing().await;
        let mut tx = self.pool.begin().await.map_err(classify)?;
        revoke_jti_in(&mut tx, jti, client_id, expires_at, at).await?;
        tx.commit().await.map_err(classify)
    }

    async fn revoked_jtis_after(
        &self,
        after: i64,
        now: i64,
        limit: u32,
    ) -> Result<Vec<RevokedJti>, StoreError> {
        let rows = sqlx::query(
            "SELECT jti, expires_at, seq FROM revoked_jtis \
             WHERE seq > $1 AND expires_at >= $2 ORDER BY seq LIMIT $3",
        )
        .bind(after)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        rows.iter().map(RevokedJti::from_row).collect()
    }

    async fn is_jti_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT jti FROM revoked_jtis WHERE jti = $1")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        Ok(row.is_some())
    }

    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        let _writing = self.writing().await;
        const PURGES: [&str; 8] = [
            "DELETE FROM opaque_tokens WHERE expires_at < $1",
            "DELETE FROM revoked_jtis WHERE expires_at < $1",
            "DELETE FROM interactions WHERE expires_at < $1",
            // A redeemed code is kept a day past its expiry, so a replay
            // that late still finds it and revokes what it issued.
            "DELETE FROM authorization_codes WHERE expires_at < $1 \
             AND (redeemed_at IS NULL OR expires_at < $1 - 86400)",
            "DELETE FROM refresh_tokens WHERE expires_at < $1",
            "DELETE FROM grant_access_tokens WHERE expires_at < $1",
            "DELETE FROM grants WHERE expires_at < $1",
            // Never the active key, whose publish_until is NULL anyway.
            "DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND publish_until < $1",
        ];
        let mut tx = self.pool.begin().await.map_err(classify)?;
        let mut removed = 0;
        for sql in PURGES {
            let done = sqlx::query(sql)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            removed += done.rows_affected();
        }
        tx.commit().await.map_err(classify)?;
        Ok(removed)
    }
}

/// A statement with its values bound.
type Query<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// A transaction, on either engine.
type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// Runs `query` inside `tx`; whether it changed any row.
async fn changed(tx: &mut Tx<'_>, query: Query<'_>) -> Result<bool, StoreError> {
    let done = query.execute(&mut **tx).await.map_err(classify)?;
    Ok(done.rows_affected() > 0)
}

/// Binds `$1..$6` of [`INSERT_ACTIVE_KEY`].
fn bind_key<'q>(query: Query<'q>, key: &'q StoredSigningKey) -> Query<'q> {
    query
        .bind(key.kid.as_str())
        .bind(key.alg.as_str())
        .bind(key.private_key.as_str())
        .bind(key.kek_id.as_deref())
        .bind(key.public_jwk.as_str())
        .bind(key.created_at)
        .bind(key.activates_at)
}

/// Marks "clients changed" for every instance's client cache.
async fn bump_client_generation(tx: &mut Tx<'_>) -> Result<(), StoreError> {
    sqlx::query("UPDATE client_generation SET generation = generation + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await
        .map(|_| ())
        .map_err(classify)
}

/// Adds `jti` to the revocation list inside `tx` (idempotent).
async fn revoke_jti_in(
    tx: &mut Tx<'_>,
    jti: &str,
    client_id: &str,
    expires_at: i64,
    at: i64,
) -> Result<(), StoreError> {
    // The counter update comes first: it takes the write lock (SQLite) or
    // the row lock (PostgreSQL) until commit, so sequence numbers become
    // visible in the order they were handed out.
    sqlx::query("UPDATE revocation_sequence SET seq = seq + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await
        .map_err(classify)?;
    // `WHERE` keeps SQLite from reading ON CONFLICT as part of the SELECT.
    sqlx::query(
        "INSERT INTO revoked_jtis (jti, client_id, expires_at, revoked_at, seq) \
         SELECT $1, $2, $3, $4, seq FROM revocation_sequence WHERE id = 1 \
         ON CONFLICT (jti) DO NOTHING",
    )
    .bind(jti)
    .bind(client_id)
    .bind(expires_at)
    .bind(at)
    .execute(&mut **tx)
    .await
    .map(|_| ())
    .map_err(classify)
}
