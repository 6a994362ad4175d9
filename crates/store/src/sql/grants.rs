//! [`GrantStore`] on SQL: every multi-row change is one transaction whose
//! first statement writes, so SQLite takes its write lock at once and
//! PostgreSQL its row lock, and concurrent callers see one winner.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::errors::classify;
use super::rows::{Record, qualified};
use super::{SqlStore, Tx, changed, revoke_jti_in};
use crate::{
    CodeRedemption, GrantAccessToken, GrantStore, RefreshTokenGrant, Rotation, StoreError,
    StoredCode, StoredGrant, StoredInteraction, StoredRefreshToken,
};

/// `CASE` gives an integer on both engines (a bare comparison is a boolean
/// on PostgreSQL); `CAST` makes it the same width on both.
const USER_ENABLED: &str = "CAST(CASE WHEN u.user_id IS NOT NULL AND u.disabled = 0 THEN 1 ELSE 0 END AS BIGINT) AS user_enabled";

fn user_enabled(row: &AnyRow) -> Result<bool, StoreError> {
    row.try_get::<i64, _>("user_enabled")
        .map(|v| v != 0)
        .map_err(classify)
}

async fn insert_refresh(tx: &mut Tx<'_>, token: &StoredRefreshToken) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO refresh_tokens ({}) VALUES ($1, $2, $3, $4, NULL, NULL, NULL)",
        StoredRefreshToken::COLUMNS
    );
    sqlx::query(&sql)
        .bind(token.token_hash.as_str())
        .bind(token.grant_id.as_str())
        .bind(token.issued_at)
        .bind(token.expires_at)
        .execute(&mut **tx)
        .await
        .map(|_| ())
        .map_err(classify)
}

async fn insert_access(
    tx: &mut Tx<'_>,
    grant_id: &str,
    access: &GrantAccessToken,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO grant_access_tokens (jti, grant_id, expires_at) VALUES ($1, $2, $3)")
        .bind(access.jti.as_str())
        .bind(grant_id)
        .bind(access.expires_at)
        .execute(&mut **tx)
        .await
        .map(|_| ())
        .map_err(classify)
}

/// Marks the grant used if it is live: the row lock this takes orders the
/// caller against a concurrent [`revoke_grant_in`]. False if revoked or gone.
async fn touch_live_grant(tx: &mut Tx<'_>, grant_id: &str, now: i64) -> Result<bool, StoreError> {
    let query =
        sqlx::query("UPDATE grants SET used_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL")
            .bind(grant_id)
            .bind(now);
    changed(tx, query).await
}

/// Revokes one grant and puts its unexpired access tokens on the revocation list.
async fn revoke_grant_in(tx: &mut Tx<'_>, grant_id: &str, now: i64) -> Result<bool, StoreError> {
    let query =
        sqlx::query("UPDATE grants SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL")
            .bind(grant_id)
            .bind(now);
    if !changed(tx, query).await? {
        return Ok(false);
    }
    let rows = sqlx::query(
        "SELECT a.jti, a.expires_at, g.client_id FROM grant_access_tokens a \
         JOIN grants g ON g.grant_id = a.grant_id \
         WHERE a.grant_id = $1 AND a.expires_at >= $2",
    )
    .bind(grant_id)
    .bind(now)
    .fetch_all(&mut **tx)
    .await
    .map_err(classify)?;
    for row in &rows {
        let jti: String = row.try_get("jti").map_err(classify)?;
        let expires_at: i64 = row.try_get("expires_at").map_err(classify)?;
        let client_id: String = row.try_get("client_id").map_err(classify)?;
        revoke_jti_in(tx, &jti, &client_id, expires_at, now).await?;
        // Opaque tokens are looked up by hash, not on the revocation list.
        sqlx::query(
            "UPDATE opaque_tokens SET revoked_at = $2 WHERE jti = $1 AND revoked_at IS NULL",
        )
        .bind(jti.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(classify)?;
    }
    Ok(true)
}

/// Revokes every live grant of a user (when the user is removed).
pub(super) async fn revoke_grants_of_user(
    tx: &mut Tx<'_>,
    user_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    let rows = sqlx::query("SELECT grant_id FROM grants WHERE user_id = $1 AND revoked_at IS NULL")
        .bind(user_id)
        .fetch_all(&mut **tx)
        .await
        .map_err(classify)?;
    for row in &rows {
        let grant_id: String = row.try_get("grant_id").map_err(classify)?;
        revoke_grant_in(tx, &grant_id, now).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl GrantStore for SqlStore {
    async fn create_interaction(&self, i: &StoredInteraction) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO interactions ({}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            StoredInteraction::COLUMNS
        );
        let query = sqlx::query(&sql)
            .bind(i.interaction_hash.as_str())
            .bind(i.client_id.as_str())
            .bind(i.request.as_str())
            .bind(i.browser_hash.as_str())
            .bind(i.csrf_hash.as_str())
            .bind(i.user_id.as_deref())
            .bind(i.auth_time)
            .bind(i.consented_scope.as_deref())
            .bind(i.created_at)
            .bind(i.expires_at)
            .bind(i.completed_at)
            .bind(i.rejection.as_deref());
        self.write(query).await.map(|_| ())
    }

    async fn interaction(
        &self,
        interaction_hash: &str,
    ) -> Result<Option<StoredInteraction>, StoreError> {
        self.fetch_by("interactions", "interaction_hash", interaction_hash)
            .await
    }

    async fn accept_login(
        &self,
        interaction_hash: &str,
        user_id: &str,
        auth_time: i64,
    ) -> Result<bool, StoreError> {
        let query = sqlx::query(
            "UPDATE interactions SET user_id = $2, auth_time = $3, consented_scope = NULL \
             WHERE interaction_hash = $1 AND completed_at IS NULL",
        )
        .bind(interaction_hash)
        .bind(user_id)
        .bind(auth_time);
        self.write(query).await
    }

    async fn accept_consent(
        &self,
        interaction_hash: &str,
        scope: &str,
    ) -> Result<bool, StoreError> {
        let query = sqlx::query(
            "UPDATE interactions SET consented_scope = $2 \
             WHERE interaction_hash = $1 AND completed_at IS NULL AND user_id IS NOT NULL",
        )
        .bind(interaction_hash)
        .bind(scope);
        self.write(query).await
    }

    async fn complete_interaction(
        &self,
        interaction_hash: &str,
        now: i64,
        code: Option<&StoredCode>,
    ) -> Result<bool, StoreError> {
        let _writing = self.writing().await;
        let mut tx = self.pool.begin().await.map_err(classify)?;
        let query = sqlx::query(
            "UPDATE interactions SET completed_at = $2 \
             WHERE interaction_hash = $1 AND completed_at IS NULL",
        )
        .bind(interaction_hash)
        .bind(now);
        if !changed(&mut tx, query).await? {
            return Ok(false);
        }
        if let Some(c) = code {
            let sql = format!(
                "INSERT INTO authorization_codes ({}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, NULL)",
                StoredCode::COLUMNS
            );
            sqlx::query(&sql)
                .bind(c.code_hash.as_str())
                .bind(c.client_id.as_str())
                .bind(c.user_id.as_str())
                .bind(c.redirect_uri.as_str())
                .bind(i64::from(c.redirect_uri_given))
                .bind(c.scope.as_str())
                .bind(c.code_challenge.as_str())
                .bind(c.nonce.as_deref())
                .bind(c.auth_time)
                .bind(c.created_at)
                .bind(c.expires_at)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)?;
        Ok(true)
    }

    async fn reject_interaction(
        &self,
        interaction_hash: &str,
        now: i64,
        rejection: &str,
    ) -> Result<bool, StoreError> {
        let query = sqlx::query(
            "UPDATE interactions SET completed_at = $2, rejection = $3 \
             WHERE interaction_hash = $1 AND completed_at IS NULL",
        )
        .bind(interaction_hash)
        .bind(now)
        .bind(rejection);
        self.write(query).await
    }

    async fn consent(&self, user_id: &str, client_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT scope FROM consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        row.map(|r| r.try_get::<String, _>("scope"))
            .transpose()
            .map_err(classify)
    }

    async fn save_consent(
        &self,
        user_id: &str,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let query = sqlx::query(
            "INSERT INTO consents (user_id, client_id, scope, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, \
             created_at = excluded.created_at",
        )
        .bind(user_id)
        .bind(client_id)
        .bind(scope)
        .bind(now);
        self.write(query).await.map(|_| ())
    }

    async fn delete_consent(&self, user_id: &str, client_id: &str) -> Result<bool, StoreError> {
        let query = sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id)
            .bind(client_id);
        self.write(query).await
    }

    async fn code(&self, code_hash: &str) -> Result<Option<StoredCode>, StoreError> {
        self.fetch_by("authorization_codes", "code_hash", code_hash)
            .await
    }

    async fn code_for_redemption(
        &self,
        code_hash: &str,
    ) -> Result<Option<CodeRedemption>, StoreError> {
        let sql = format!(
            "SELECT {}, {USER_ENABLED} FROM authorization_codes c \
             LEFT JOIN users u ON u.user_id = c.user_id WHERE c.code_hash = $1",
            qualified::<StoredCode>("c", "")
        );
        let row = sqlx::query(&sql)
            .bind(code_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        row.map(|row| {
            Ok(CodeRedemption {
                code: StoredCode::from_row(&row)?,
                user_enabled: user_enabled(&row)?,
            })
        })
        .transpose()
    }

    async fn redeem_code(
        &self,
        code_hash: &str,
        now: i64,
        grant: &StoredGrant,
        access: &GrantAccessToken,
        refresh: Option<&StoredRefreshToken>,
    ) -> Result<bool, StoreError> {
        let _writing = self.writing().await;
        let mut tx = self.pool.begin().await.map_err(classify)?;
        let query = sqlx::query(
            "UPDATE authorization_codes SET redeemed_at = $2, grant_id = $3 \
             WHERE code_hash = $1 AND redeemed_at IS NULL",
        )
        .bind(code_hash)
        .bind(now)
        .bind(grant.grant_id.as_str());
        if !changed(&mut tx, query).await? {
            return Ok(false);
        }
        let sql = format!(
            "INSERT INTO grants ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)",
            StoredGrant::COLUMNS
        );
        sqlx::query(&sql)
            .bind(grant.grant_id.as_str())
            .bind(grant.client_id.as_str())
            .bind(grant.user_id.as_str())
            .bind(grant.scope.as_str())
            .bind(grant.cnf_x5t_s256.as_deref())
            .bind(grant.auth_time)
            .bind(grant.created_at)
            .bind(grant.expires_at)
            .bind(grant.used_at)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        insert_access(&mut tx, &grant.grant_id, access).await?;
        if let Some(token) = refresh {
            insert_refresh(&mut tx, token).await?;
        }
        tx.commit().await.map_err(classify)?;
        Ok(true)
    }

    async fn grant(&self, grant_id: &str) -> Result<Option<StoredGrant>, StoreError> {
        self.fetch_by("grants", "grant_id", grant_id).await
    }

    async fn revoke_grant(&self, grant_id: &str, now: i64) -> Result<bool, StoreError> {
        let _writing = self.writing().await;
        let mut tx = self.pool.begin().await.map_err(classify)?;
        let revoked = revoke_grant_in(&mut tx, grant_id, now).await?;
        tx.commit().await.map_err(classify)?;
        Ok(revoked)
    }

    async fn record_access_token(
        &self,
        grant_id: &str,
        access: &GrantAccessToken,
    ) -> Result<bool, StoreError> {
        // One statement, inserting only under a live grant. SQLite runs
        // writers one at a time, so it cannot interleave with a revocation;
        // on PostgreSQL `FOR SHARE` holds the grant row until this commits,
        // so a revocation (which updates the row) either waits and then sees
        // this token, or commits first and this statement finds the grant
        // revoked. Shared, so refreshes of one grant do not queue on each other.
        let lock = match self.backend {
            super::Backend::Postgres => " FOR SHARE",
            super::Backend::Sqlite | super::Backend::SqliteMemory => "",
        };
        let sql = format!(
            "INSERT INTO grant_access_tokens (jti, grant_id, expires_at) \
             SELECT $1, grant_id, $3 FROM grants \
             WHERE grant_id = $2 AND revoked_at IS NULL{lock}"
        );
        let query = sqlx::query(&sql)
            .bind(access.jti.as_str())
            .bind(grant_id)
            .bind(access.expires_at);
        self.write(query).await
    }

    async fn refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<StoredRefreshToken>, StoreError> {
        self.fetch_by("refresh_tokens", "token_hash", token_hash)
            .await
    }

    async fn refresh_token_grant(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshTokenGrant>, StoreError> {
        // The grant's columns under their own names, the token's prefixed:
        // both tables have `grant_id` and `expires_at`.
        let sql = format!(
            "SELECT {}, {}, {USER_ENABLED} FROM refresh_tokens r \
             JOIN grants g ON g.grant_id = r.grant_id \
             LEFT JOIN users u ON u.user_id = g.user_id WHERE r.token_hash = $1",
            qualified::<StoredGrant>("g", ""),
            qualified::<StoredRefreshToken>("r", "r_")
        );
        let row = sqlx::query(&sql)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(RefreshTokenGrant {
            token: StoredRefreshToken::read(&row, "r_").map_err(classify)?,
            grant: StoredGrant::from_row(&row)?,
            user_enabled: user_enabled(&row)?,
        }))
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        now: i64,
        successor: &StoredRefreshToken,
        sealed_response: Option<&str>,
        access: &GrantAccessToken,
    ) -> Result<Rotation, StoreError> {
        let _writing = self.writing().await;
        let mut tx = self.pool.begin().await.map_err(classify)?;
        if !touch_live_grant(&mut tx, &successor.grant_id, now).await? {
            return Ok(Rotation::GrantRevoked);
        }
        let query = sqlx::query(
            "UPDATE refresh_tokens SET rotated_at = $2, successor_hash = $3, \
             sealed_response = $4 WHERE token_hash = $1 AND rotated_at IS NULL \
             AND grant_id = $5",
        )
        .bind(old_hash)
        .bind(now)
        .bind(successor.token_hash.as_str())
        .bind(sealed_response)
        .bind(successor.grant_id.as_str());
        if !changed(&mut tx, query).await? {
            return Ok(Rotation::AlreadyRotated);
        }
        insert_refresh(&mut tx, successor).await?;
        insert_access(&mut tx, &successor.grant_id, access).await?;
        tx.commit().await.map_err(classify)?;
        Ok(Rotation::Rotated)
    }
}
