//! [`UserStore`] on SQL.

use super::errors::classify;
use super::grants::revoke_grants_of_user;
use super::rows::Record;
use super::{Query, SqlStore, changed};
use crate::{StoreError, StoredUser, Taken, UserStore};

/// A unique violation on `users` can only be the username (ids are random).
fn username_taken(username: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |e| match classify(e) {
        StoreError::Conflict { source, .. } => StoreError::Conflict {
            taken: Taken::Username(username.to_owned()),
            source,
        },
        other => other,
    }
}

/// Binds `$1..$6`: the user's fields up to `disabled`, in column order.
fn bind_user<'q>(query: Query<'q>, user: &'q StoredUser) -> Query<'q> {
    query
        .bind(user.user_id.as_str())
        .bind(user.username.as_str())
        .bind(user.password_hash.as_str())
        .bind(user.display_name.as_deref())
        .bind(user.email.as_deref())
        .bind(i64::from(user.disabled))
}

#[async_trait::async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, user: &StoredUser) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO users ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            StoredUser::COLUMNS
        );
        let query = bind_user(sqlx::query(&sql), user)
            .bind(user.created_at)
            .bind(user.updated_at);
        self.write_or(query, username_taken(&user.username))
            .await
            .map(|_| ())
    }

    async fn user(&self, user_id: &str) -> Result<Option<StoredUser>, StoreError> {
        self.fetch_by("users", "user_id", user_id).await
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<StoredUser>, StoreError> {
        self.fetch_by("users", "username", username).await
    }

    async fn users(&self) -> Result<Vec<StoredUser>, StoreError> {
        let mut users: Vec<StoredUser> = self.fetch_all("users").await?;
        // Byte-wise on both backends, whatever the collation.
        users.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(users)
    }

    async fn update_user(&self, user: &StoredUser) -> Result<bool, StoreError> {
        let query = sqlx::query(
            "UPDATE users SET username = $2, password_hash = $3, display_name = $4, \
             email = $5, disabled = $6, updated_at = $7 WHERE user_id = $1",
        );
        let query = bind_user(query, user).bind(user.updated_at);
        self.write_or(query, username_taken(&user.username)).await
    }

    async fn delete_user(&self, user_id: &str, now: i64) -> Result<bool, StoreError> {
        let _writing = self.writing().await;
        let mut tx = self.pool.begin().await.map_err(classify)?;
        let query = sqlx::query("DELETE FROM users WHERE user_id = $1").bind(user_id);
        if !changed(&mut tx, query).await? {
            return Ok(false);
        }
        sqlx::query("DELETE FROM consents WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        revoke_grants_of_user(&mut tx, user_id, now).await?;
        tx.commit().await.map_err(classify)?;
        Ok(true)
    }
}
