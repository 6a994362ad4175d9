//! People who sign in: adding and changing user records (for `certbound
//! users` and anything else that manages them) and checking a login (for
//! the login page). Records live in [`certbound_store::UserStore`];
//! passwords only as Argon2id hashes ([`password`]).

pub mod password;
mod rules;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use certbound_store::{Store, StoreError, StoredUser};

pub use password::{hash_password, needs_rehash, verify_password};
pub use rules::{
    InvalidUser, MAX_DISPLAY_NAME_BYTES, MAX_EMAIL_BYTES, MAX_PASSWORD_BYTES, MAX_USERNAME_CHARS,
    MIN_PASSWORD_CHARS, UserField, UserRule, canonical_username, check_display_name, check_email,
    check_password, check_username,
};

use crate::{ServerError, audit};

/// A user to add; the password is hashed and dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Login name (stored in NFC).
    pub username: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// The password in clear.
    pub password: String,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("display_name", &self.display_name)
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The outcome of [`check_login`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginCheck {
    /// The password is right and the user may sign in.
    Accepted(StoredUser),
    /// Not signed in; the page says the same thing for every reason.
    Refused(LoginRefusal),
}

/// Why a login was refused: for the audit log, never for the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginRefusal {
    /// No user has this username.
    UnknownUser,
    /// The password does not match.
    WrongPassword,
    /// The password matches but the user is disabled.
    Disabled,
}

impl LoginRefusal {
    /// The reason as the audit log records it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UnknownUser => "unknown_user",
            Self::WrongPassword => "wrong_password",
            Self::Disabled => "disabled",
        }
    }
}

/// A fresh `user_id`: 128 bits from the system CSPRNG, base64url. It is the
/// `sub` of the user's tokens, so it never changes and is never reused.
pub fn new_user_id() -> Result<String, ServerError> {
    Ok(URL_SAFE_NO_PAD.encode(crate::random_bytes::<16>()?))
}

/// Validates and adds a user; [`ServerError::UserExists`] if the username is taken.
pub async fn add_user(store: &dyn Store, new: NewUser) -> Result<StoredUser, ServerError> {
    let username = canonical_username(&new.username);
    check_username(&username)?;
    if let Some(name) = &new.display_name {
        check_display_name(name)?;
    }
    if let Some(email) = &new.email {
        check_email(email)?;
    }
    check_password(&new.password)?;
    let now = crate::now();
    let user = StoredUser {
        user_id: new_user_id()?,
        username,
        password_hash: hash_password(&new.password)?,
        display_name: new.display_name,
        email: new.email,
        disabled: false,
        created_at: now,
        updated_at: now,
    };
    match store.create_user(&user).await {
        Ok(()) => {
            audit::user_added(&user.username, &user.user_id);
            Ok(user)
        }
        Err(source @ StoreError::Conflict { .. }) => Err(ServerError::UserExists {
            username: user.username,
            source,
        }),
        Err(e) => Err(e.into()),
    }
}

/// One user by username; [`ServerError::UnknownUser`] if there is none.
pub async fn find_user(store: &dyn Store, username: &str) -> Result<StoredUser, ServerError> {
    let username = canonical_username(username);
    store
        .user_by_username(&username)
        .await?
        .ok_or(ServerError::UnknownUser { username })
}

/// Writes `user` back with a new `updated_at`.
async fn update(store: &dyn Store, mut user: StoredUser) -> Result<StoredUser, ServerError> {
    user.updated_at = crate::now();
    if store.update_user(&user).await? {
        Ok(user)
    } else {
        // Removed between the read and the write.
        Err(ServerError::UnknownUser {
            username: user.username,
        })
    }
}

/// Sets a new password (checked against the rules, stored hashed).
pub async fn set_password(
    store: &dyn Store,
    username: &str,
    password: &str,
) -> Result<StoredUser, ServerError> {
    check_password(password)?;
    let mut user = find_user(store, username).await?;
    user.password_hash = hash_password(password)?;
    let user = update(store, user).await?;
    audit::user_changed(&user.username, &user.user_id, "password_set");
    Ok(user)
}

/// Disables (`true`) or enables a user. A disabled user cannot sign in
/// and their refresh tokens stop working.
pub async fn set_disabled(
    store: &dyn Store,
    username: &str,
    disabled: bool,
) -> Result<StoredUser, ServerError> {
    let mut user = find_user(store, username).await?;
    if user.disabled == disabled {
        return Ok(user);
    }
    user.disabled = disabled;
    let user = update(store, user).await?;
    let change = if disabled { "disabled" } else { "enabled" };
    audit::user_changed(&user.username, &user.user_id, change);
    Ok(user)
}

/// Removes a user, their consents and grants; returns the removed record.
pub async fn remove_user(store: &dyn Store, username: &str) -> Result<StoredUser, ServerError> {
    let user = find_user(store, username).await?;
    if !store.delete_user(&user.user_id, crate::now()).await? {
        return Err(ServerError::UnknownUser {
            username: user.username,
        });
    }
    audit::user_removed(&user.username, &user.user_id);
    Ok(user)
}

/// Checks a username and password, taking the same time whether or not the
/// user exists (an unknown name is checked against a dummy hash), and
/// audits the outcome. On success a hash weaker than the current defaults
/// is replaced by a fresh one.
pub async fn check_login(
    store: &dyn Store,
    username: &str,
    password: &str,
) -> Result<LoginCheck, ServerError> {
    let username = canonical_username(username);
    let found = store.user_by_username(&username).await?;
    // Argon2id takes tens of milliseconds and ~19 MiB: off the async
    // workers, so a burst of logins cannot stall token requests.
    let stored = found.as_ref().map(|u| u.password_hash.clone());
    let candidate = password.to_owned();
    let matches = tokio::task::spawn_blocking(move || match stored {
        Some(hash) => verify_password(&candidate, &hash),
        None => {
            password::verify_dummy(&candidate);
            Ok(false)
        }
    })
    .await
    .map_err(|e| ServerError::PasswordHash(format!("the password check did not finish: {e}")))??;
    let Some(mut user) = found else {
        return Ok(refuse(&username, LoginRefusal::UnknownUser));
    };
    if !matches {
        return Ok(refuse(&username, LoginRefusal::WrongPassword));
    }
    if user.disabled {
        return Ok(refuse(&username, LoginRefusal::Disabled));
    }
    if needs_rehash(&user.password_hash) {
        let candidate = password.to_owned();
        user.password_hash = tokio::task::spawn_blocking(move || hash_password(&candidate))
            .await
            .map_err(|e| ServerError::PasswordHash(format!("re-hashing did not finish: {e}")))??;
        user = update(store, user).await?;
        audit::user_changed(&user.username, &user.user_id, "password_rehashed");
    }
    audit::login_accepted(&user.username, &user.user_id);
    Ok(LoginCheck::Accepted(user))
}

fn refuse(username: &str, reason: LoginRefusal) -> LoginCheck {
    audit::login_refused(username, reason.as_str());
    LoginCheck::Refused(reason)
}

#[cfg(test)]
mod tests;
