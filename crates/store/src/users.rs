//! People who sign in: the user records and how they are kept.

use crate::StoreError;

/// A user who can sign in at `/authorize`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUser {
    /// Stable identifier, the `sub` of their tokens; never reused.
    pub user_id: String,
    /// Login name, unique; may change without changing `user_id`.
    pub username: String,
    /// PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), never the password.
    pub password_hash: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// A disabled user cannot sign in and their refresh tokens stop working.
    pub disabled: bool,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

/// User records.
#[async_trait::async_trait]
pub trait UserStore: Send + Sync {
    /// Adds a user; [`StoreError::Conflict`] with [`crate::Taken::Username`]
    /// if the username is taken.
    async fn create_user(&self, user: &StoredUser) -> Result<(), StoreError>;
    /// One user by id.
    async fn user(&self, user_id: &str) -> Result<Option<StoredUser>, StoreError>;
    /// One user by username.
    async fn user_by_username(&self, username: &str) -> Result<Option<StoredUser>, StoreError>;
    /// Every user, ordered by username.
    async fn users(&self) -> Result<Vec<StoredUser>, StoreError>;
    /// Replaces the record with `user.user_id`; false if there is none.
    async fn update_user(&self, user: &StoredUser) -> Result<bool, StoreError>;
    /// Removes a user with their remembered consents, and revokes their
    /// grants (and so their refresh tokens); false if there was none.
    async fn delete_user(&self, user_id: &str, now: i64) -> Result<bool, StoreError>;
}
