//! Rows read back into records.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::errors::classify;
use crate::{
    StoreError, StoredClient, StoredCode, StoredGrant, StoredInteraction, StoredRefreshToken,
    StoredSigningKey, StoredToken,
};

pub(super) fn client_from_row(row: &AnyRow) -> Result<StoredClient, StoreError> {
    let read = || -> Result<StoredClient, sqlx::Error> {
        Ok(StoredClient {
            client_id: row.try_get("client_id")?,
            metadata: row.try_get("metadata")?,
            secret_hash: row.try_get("secret_hash")?,
            created_at: row.try_get("created_at")?,
        })
    };
    read().map_err(classify)
}

pub(super) fn key_from_row(row: &AnyRow) -> Result<StoredSigningKey, StoreError> {
    let read = || -> Result<StoredSigningKey, sqlx::Error> {
        Ok(StoredSigningKey {
            kid: row.try_get("kid")?,
            alg: row.try_get("alg")?,
            private_key: row.try_get("private_key")?,
            kek_id: row.try_get("kek_id")?,
            public_jwk: row.try_get("public_jwk")?,
            created_at: row.try_get("created_at")?,
            retired_at: row.try_get("retired_at")?,
            publish_until: row.try_get("publish_until")?,
            max_token_ttl: row.try_get("max_token_ttl")?,
            max_signing_lag: row.try_get("max_signing_lag")?,
        })
    };
    read().map_err(classify)
}

pub(super) fn token_from_row(row: &AnyRow) -> Result<StoredToken, StoreError> {
    let read = || -> Result<StoredToken, sqlx::Error> {
        Ok(StoredToken {
            token_hash: row.try_get("token_hash")?,
            jti: row.try_get("jti")?,
            client_id: row.try_get("client_id")?,
            subject: row.try_get("subject")?,
            scope: row.try_get("scope")?,
            audience: row.try_get("audience")?,
            cnf_x5t_s256: row.try_get("cnf_x5t_s256")?,
            issued_at: row.try_get("issued_at")?,
            expires_at: row.try_get("expires_at")?,
            revoked_at: row.try_get("revoked_at")?,
        })
    };
    read().map_err(classify)
}

pub(super) fn interaction_from_row(row: &AnyRow) -> Result<StoredInteraction, StoreError> {
    let read = || -> Result<StoredInteraction, sqlx::Error> {
        Ok(StoredInteraction {
            interaction_hash: row.try_get("interaction_hash")?,
            client_id: row.try_get("client_id")?,
            request: row.try_get("request")?,
            browser_hash: row.try_get("browser_hash")?,
            csrf_hash: row.try_get("csrf_hash")?,
            user_id: row.try_get("user_id")?,
            auth_time: row.try_get("auth_time")?,
            consented_scope: row.try_get("consented_scope")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            completed_at: row.try_get("completed_at")?,
            rejection: row.try_get("rejection")?,
        })
    };
    read().map_err(classify)
}

pub(super) fn code_from_row(row: &AnyRow) -> Result<StoredCode, StoreError> {
    let read = || -> Result<StoredCode, sqlx::Error> {
        Ok(StoredCode {
            code_hash: row.try_get("code_hash")?,
            client_id: row.try_get("client_id")?,
            user_id: row.try_get("user_id")?,
            redirect_uri: row.try_get("redirect_uri")?,
            redirect_uri_given: row.try_get::<i64, _>("redirect_uri_given")? != 0,
            scope: row.try_get("scope")?,
            code_challenge: row.try_get("code_challenge")?,
            nonce: row.try_get("nonce")?,
            auth_time: row.try_get("auth_time")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            redeemed_at: row.try_get("redeemed_at")?,
            grant_id: row.try_get("grant_id")?,
        })
    };
    read().map_err(classify)
}

pub(super) fn grant_from_row(row: &AnyRow) -> Result<StoredGrant, StoreError> {
    let read = || -> Result<StoredGrant, sqlx::Error> {
        Ok(StoredGrant {
            grant_id: row.try_get("grant_id")?,
            client_id: row.try_get("client_id")?,
            user_id: row.try_get("user_id")?,
            scope: row.try_get("scope")?,
            cnf_x5t_s256: row.try_get("cnf_x5t_s256")?,
            auth_time: row.try_get("auth_time")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            used_at: row.try_get("used_at")?,
            revoked_at: row.try_get("revoked_at")?,
        })
    };
    read().map_err(classify)
}

pub(super) fn refresh_from_row(row: &AnyRow) -> Result<StoredRefreshToken, StoreError> {
    let read = || -> Result<StoredRefreshToken, sqlx::Error> {
        Ok(StoredRefreshToken {
            token_hash: row.try_get("token_hash")?,
            grant_id: row.try_get("grant_id")?,
            issued_at: row.try_get("issued_at")?,
            expires_at: row.try_get("expires_at")?,
            rotated_at: row.try_get("rotated_at")?,
            successor_hash: row.try_get("successor_hash")?,
            sealed_response: row.try_get("sealed_response")?,
        })
    };
    read().map_err(classify)
}
