//! Rows read back into records.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::errors::classify;
use crate::{StoreError, StoredClient, StoredSigningKey, StoredToken};

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
            private_key_pem: row.try_get("private_key_pem")?,
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
