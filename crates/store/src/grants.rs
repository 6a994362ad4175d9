//! The authorization code flow's state: interactions (login and consent in
//! progress), remembered consents, codes, grants and refresh tokens.

use crate::StoreError;

/// An authorization request between `/authorize` and its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInteraction {
    /// SHA-256 of the handle given to the browser and the login app.
    pub interaction_hash: String,
    /// The client that asked.
    pub client_id: String,
    /// The validated authorization request as JSON, owned by the server.
    pub request: String,
    /// SHA-256 of the cookie of the browser that started it.
    pub browser_hash: String,
    /// SHA-256 of the CSRF token its forms carry.
    pub csrf_hash: String,
    /// Who signed in, once login is accepted.
    pub user_id: Option<String>,
    /// When they signed in.
    pub auth_time: Option<i64>,
    /// Approved scopes, once consent is given.
    pub consented_scope: Option<String>,
    /// Creation time.
    pub created_at: i64,
    /// After this it can no longer be completed.
    pub expires_at: i64,
    /// When it ended (code issued or request refused); it is single use.
    pub completed_at: Option<i64>,
    /// The error a rejection ended it with (JSON owned by the server).
    pub rejection: Option<String>,
}

/// An authorization code (RFC 6749 §4.1.2), bound to its client,
/// `redirect_uri` and PKCE challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCode {
    /// SHA-256 of the code.
    pub code_hash: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The user who approved it.
    pub user_id: String,
    /// The `redirect_uri` of the authorization request.
    pub redirect_uri: String,
    /// The request carried `redirect_uri` (it was not implied by a single
    /// registered one): the token request must then repeat it.
    pub redirect_uri_given: bool,
    /// Approved scopes, space-separated.
    pub scope: String,
    /// PKCE S256 `code_challenge`.
    pub code_challenge: String,
    /// OpenID Connect `nonce`, when the request had one.
    pub nonce: Option<String>,
    /// When the user signed in.
    pub auth_time: i64,
    /// Issue time.
    pub created_at: i64,
    /// Expiry (at most 60 s after issue).
    pub expires_at: i64,
    /// When it was redeemed.
    pub redeemed_at: Option<i64>,
    /// The grant its redemption created.
    pub grant_id: Option<String>,
}

/// What one code redemption granted; all tokens issued from it belong to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredGrant {
    /// Random identifier.
    pub grant_id: String,
    /// The client.
    pub client_id: String,
    /// The user (the tokens' `sub`).
    pub user_id: String,
    /// Granted scopes: refreshing may narrow them, never widen.
    pub scope: String,
    /// RFC 8705 §4: the certificate a public client's refresh tokens are bound to.
    pub cnf_x5t_s256: Option<String>,
    /// When the user signed in.
    pub auth_time: i64,
    /// Creation time.
    pub created_at: i64,
    /// Absolute end of the grant: no refresh token outlives it.
    pub expires_at: i64,
    /// When it last changed: created, or one of its refresh tokens rotated.
    pub used_at: i64,
    /// Revocation time.
    pub revoked_at: Option<i64>,
}

/// A refresh token (by hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRefreshToken {
    /// SHA-256 of the token.
    pub token_hash: String,
    /// Its grant.
    pub grant_id: String,
    /// Issue time.
    pub issued_at: i64,
    /// Expiry (never after the grant's).
    pub expires_at: i64,
    /// When it was replaced by a successor.
    pub rotated_at: Option<i64>,
    /// The successor's hash.
    pub successor_hash: Option<String>,
    /// The successor's token response, sealed under a key derived from this
    /// token, for the grace window in which a lost response may be fetched again.
    pub sealed_response: Option<String>,
}

/// An access token issued under a grant, recorded with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantAccessToken {
    /// Its `jti`.
    pub jti: String,
    /// Its `exp`.
    pub expires_at: i64,
}

/// A refresh token with its grant and whether the grant's user may still
/// get tokens, read in one query (the refresh grant's hot path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenGrant {
    /// The token.
    pub token: StoredRefreshToken,
    /// Its grant.
    pub grant: StoredGrant,
    /// The user exists and is not disabled.
    pub user_enabled: bool,
}

/// A code with whether its user may still get tokens, read in one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRedemption {
    /// The code.
    pub code: StoredCode,
    /// The user exists and is not disabled.
    pub user_enabled: bool,
}

/// What a rotation of a refresh token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The successor is stored and the old token is rotated.
    Rotated,
    /// Someone rotated it first; nothing changed.
    AlreadyRotated,
    /// The grant is revoked (or gone); nothing changed.
    GrantRevoked,
}

/// Storage of the authorization code flow.
#[async_trait::async_trait]
pub trait GrantStore: Send + Sync {
    /// Records a new interaction.
    async fn create_interaction(&self, interaction: &StoredInteraction) -> Result<(), StoreError>;
    /// One interaction by the hash of its handle.
    async fn interaction(
        &self,
        interaction_hash: &str,
    ) -> Result<Option<StoredInteraction>, StoreError>;
    /// Records who signed in; false if the interaction is unknown or completed.
    async fn accept_login(
        &self,
        interaction_hash: &str,
        user_id: &str,
        auth_time: i64,
    ) -> Result<bool, StoreError>;
    /// Records the approved scopes; false if unknown, completed or nobody signed in.
    async fn accept_consent(&self, interaction_hash: &str, scope: &str)
    -> Result<bool, StoreError>;
    /// Ends the interaction, storing `code` in the same transaction; false
    /// (and nothing stored) if it was already completed or is unknown.
    async fn complete_interaction(
        &self,
        interaction_hash: &str,
        now: i64,
        code: Option<&StoredCode>,
    ) -> Result<bool, StoreError>;

    /// Ends the interaction with `rejection` (the error to deliver); false,
    /// with nothing changed, if it was already completed or is unknown.
    async fn reject_interaction(
        &self,
        interaction_hash: &str,
        now: i64,
        rejection: &str,
    ) -> Result<bool, StoreError>;

    /// The scopes `user_id` has approved for `client_id`, if remembered.
    async fn consent(&self, user_id: &str, client_id: &str) -> Result<Option<String>, StoreError>;
    /// Remembers (replaces) the approved scopes.
    async fn save_consent(
        &self,
        user_id: &str,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Forgets a remembered consent; false if there was none.
    async fn delete_consent(&self, user_id: &str, client_id: &str) -> Result<bool, StoreError>;

    /// One code by hash.
    async fn code(&self, code_hash: &str) -> Result<Option<StoredCode>, StoreError>;
    /// One code by hash with whether its user is enabled, in one query.
    async fn code_for_redemption(
        &self,
        code_hash: &str,
    ) -> Result<Option<CodeRedemption>, StoreError>;
    /// Redeems the code: in one transaction marks it redeemed by `grant`,
    /// stores the grant, its first access token and its first refresh token.
    /// False, with nothing changed, if it was already redeemed: exactly one
    /// of any number of concurrent redemptions returns true.
    async fn redeem_code(
        &self,
        code_hash: &str,
        now: i64,
        grant: &StoredGrant,
        access: &GrantAccessToken,
        refresh: Option<&StoredRefreshToken>,
    ) -> Result<bool, StoreError>;

    /// One grant.
    async fn grant(&self, grant_id: &str) -> Result<Option<StoredGrant>, StoreError>;
    /// Revokes the grant, its refresh tokens and, through the revocation
    /// list, its unexpired access tokens; false if already revoked or unknown.
    async fn revoke_grant(&self, grant_id: &str, now: i64) -> Result<bool, StoreError>;
    /// Records an access token issued under a live grant; false (nothing
    /// recorded) if the grant is revoked. Serialised with [`Self::revoke_grant`]
    /// so no token issued under a grant escapes its revocation.
    async fn record_access_token(
        &self,
        grant_id: &str,
        access: &GrantAccessToken,
    ) -> Result<bool, StoreError>;

    /// One refresh token by hash.
    async fn refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<StoredRefreshToken>, StoreError>;
    /// One refresh token with its grant and whether the grant's user is
    /// enabled, in one query; `None` if the token (or its grant) is unknown.
    async fn refresh_token_grant(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshTokenGrant>, StoreError>;
    /// Replaces `old_hash` with `successor` under a live grant and records
    /// the access token issued with it, in one transaction. The old token
    /// must belong to `successor.grant_id`; an unknown, foreign or already
    /// rotated one yields [`Rotation::AlreadyRotated`] with nothing stored.
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        now: i64,
        successor: &StoredRefreshToken,
        sealed_response: Option<&str>,
        access: &GrantAccessToken,
    ) -> Result<Rotation, StoreError>;
}
