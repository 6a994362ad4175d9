//! Rows as the store reads and writes them.

/// A registered OAuth client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredClient {
    /// `client_id`, the primary key.
    pub client_id: String,
    /// RFC 7591-style client metadata as JSON, owned by the server crate.
    pub metadata: String,
    /// Hash of the client secret, for secret-based methods; never the secret.
    pub secret_hash: Option<String>,
    /// Registration time.
    pub created_at: i64,
}

/// A signing key's private key sealed anew (`certbound keys rewrap`).
#[derive(Clone, PartialEq, Eq)]
pub struct ResealedKey {
    /// The key.
    pub kid: String,
    /// The stored `private_key` it was resealed from: the write happens only
    /// if that is still what the store holds.
    pub replaces: String,
    /// The new sealed private key.
    pub private_key: String,
    /// The key-encryption key it is sealed under.
    pub kek_id: String,
}

/// A token-signing key.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    /// JWS `kid`, the primary key.
    pub kid: String,
    /// JWS `alg` (`ES256`, `PS256`, `EdDSA`).
    pub alg: String,
    /// The PKCS#8 private key (PEM), sealed under the key-encryption key
    /// `kek_id` names; the PEM itself where `kek_id` is `None` (a key an
    /// earlier version stored unsealed).
    pub private_key: String,
    /// Id of the key-encryption key `private_key` is sealed under.
    pub kek_id: Option<String>,
    /// The public JWK as JSON, as published at `/jwks`.
    pub public_jwk: String,
    /// Creation time.
    pub created_at: i64,
    /// When it starts signing: after its creation when a rotation
    /// published it ahead (`keys.prepublish_seconds`).
    pub activates_at: i64,
    /// When it stops signing (a rotation may set it ahead, to the next
    /// key's `activates_at`); `None` for the newest key.
    pub retired_at: Option<i64>,
    /// Until when a retired key stays in the JWKS.
    pub publish_until: Option<i64>,
    /// Longest access-token lifetime (seconds) any instance signs with this
    /// key, as recorded by [`crate::Store::record_key_use`]; 0 if none yet.
    pub max_token_ttl: i64,
    /// Longest time (seconds) an instance may go on signing with this key
    /// after it is retired (its key-cache period); 0 if none recorded.
    pub max_signing_lag: i64,
}

/// An issued opaque access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    /// SHA-256 of the token value (base64url), the primary key.
    pub token_hash: String,
    /// Token identifier, also used in audit logs.
    pub jti: String,
    /// The client it was issued to.
    pub client_id: String,
    /// `sub`.
    pub subject: String,
    /// Granted scope, space-separated.
    pub scope: String,
    /// `aud`.
    pub audience: String,
    /// `cnf.x5t#S256` when certificate-bound.
    pub cnf_x5t_s256: Option<String>,
    /// Issue time.
    pub issued_at: i64,
    /// Expiry time.
    pub expires_at: i64,
    /// Revocation time, if revoked.
    pub revoked_at: Option<i64>,
}

/// A revoked, not yet expired JWT access token, as the revocation list serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedJti {
    /// The token's `jti`.
    pub jti: String,
    /// The token's `exp`: after it the entry is no longer needed.
    pub expires_at: i64,
    /// Position in the revocation sequence (increasing in commit order).
    pub seq: i64,
}

/// What `Debug` shows of a private key: its length only. A key an earlier
/// version stored unsealed is the PEM itself and must not reach a log.
struct Redacted<'a>(&'a str);

impl std::fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes redacted>", self.0.len())
    }
}

impl std::fmt::Debug for StoredSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private_key", &Redacted(&self.private_key))
            .field("kek_id", &self.kek_id)
            .field("public_jwk", &self.public_jwk)
            .field("created_at", &self.created_at)
            .field("activates_at", &self.activates_at)
            .field("retired_at", &self.retired_at)
            .field("publish_until", &self.publish_until)
            .field("max_token_ttl", &self.max_token_ttl)
            .field("max_signing_lag", &self.max_signing_lag)
            .finish()
    }
}

impl std::fmt::Debug for ResealedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResealedKey")
            .field("kid", &self.kid)
            .field("replaces", &Redacted(&self.replaces))
            .field("private_key", &Redacted(&self.private_key))
            .field("kek_id", &self.kek_id)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_private_key() {
        let pem = "-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n-----END PRIVATE KEY-----\n";
        let key = StoredSigningKey {
            kid: "k1".into(),
            alg: "ES256".into(),
            private_key: pem.into(),
            kek_id: None,
            public_jwk: "{}".into(),
            created_at: 1,
            activates_at: 1,
            retired_at: None,
            publish_until: None,
            max_token_ttl: 0,
            max_signing_lag: 0,
        };
        let resealed = ResealedKey {
            kid: "k1".into(),
            replaces: pem.into(),
            private_key: "sealed".into(),
            kek_id: "kek".into(),
        };
        for shown in [format!("{key:?}"), format!("{resealed:?}")] {
            assert!(
                !shown.contains("MIGHAgEA") && !shown.contains("sealed\""),
                "{shown}"
            );
            assert!(
                shown.contains("bytes redacted") && shown.contains("k1"),
                "{shown}"
            );
        }
    }
}
