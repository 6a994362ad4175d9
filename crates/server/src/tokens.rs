//! Issuing access tokens (RFC 9068 JWTs or opaque references, bound per
//! RFC 8705 §3) and finding out what a presented token is.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use certbound_core::claims::ACCESS_TOKEN_TYP;
use certbound_core::{AccessTokenClaims, Confirmation, Thumbprint};
use certbound_jose::{JoseError, JwtVerifier, RegisteredClaim, Signed, VerificationPolicy};
use certbound_store::StoredToken;
use sha2::{Digest, Sha256};

use crate::clients::{RegisteredClient, TokenFormat};
use crate::keys::SigningAlg;
use crate::{AuthorizationServer, OAuthError, audit};

/// A freshly issued token, as the token endpoint returns it.
#[derive(Debug)]
pub struct IssuedToken {
    /// The token value.
    pub access_token: String,
    /// Lifetime in seconds.
    pub expires_in: i64,
    /// Granted scopes, space-separated.
    pub scope: String,
}

/// What an access token is issued for.
#[derive(Debug)]
pub struct AccessGrant<'a> {
    /// `sub`: the client itself for `client_credentials`, the user otherwise.
    pub subject: &'a str,
    /// Granted scopes.
    pub scopes: &'a [String],
    /// `cnf.x5t#S256` when bound.
    pub binding: Option<Thumbprint>,
    /// `jti`, chosen by the caller when it must be recorded before signing.
    pub jti: String,
    /// `iat`; `exp` is `iat` plus the configured lifetime.
    pub issued_at: i64,
}

impl AccessGrant<'_> {
    /// When a token issued now for this grant expires.
    pub fn expires_at(&self, server: &AuthorizationServer) -> i64 {
        self.issued_at + server.settings.access_token_ttl
    }
}

/// Issues a token to `client` for `grant`.
pub async fn issue(
    server: &AuthorizationServer,
    client: &RegisteredClient,
    grant: AccessGrant<'_>,
) -> Result<IssuedToken, OAuthError> {
    let now = grant.issued_at;
    let ttl = server.settings.access_token_ttl;
    let scope = grant.scopes.join(" ");
    let claims = AccessTokenClaims {
        iss: server.settings.issuer.clone(),
        sub: grant.subject.to_owned(),
        aud: client
            .audience
            .clone()
            .unwrap_or_else(|| server.settings.default_audience.clone()),
        exp: now + ttl,
        iat: now,
        jti: grant.jti,
        client_id: client.client_id.clone(),
        scope: (!scope.is_empty()).then(|| scope.clone()),
        cnf: grant.binding.map(Confirmation::for_thumbprint),
    };
    let access_token = match client.format {
        TokenFormat::Jwt => {
            let keys = server.keys.get().await?;
            keys.active
                .signer
                .sign_claims(&claims)
                .map_err(|e| OAuthError::internal(&e))?
        }
        TokenFormat::Opaque => {
            let token = URL_SAFE_NO_PAD.encode(crate::random_bytes::<32>()?);
            server
                .store
                .insert_opaque_token(&StoredToken {
                    token_hash: token_hash(&token),
                    jti: claims.jti.clone(),
                    client_id: claims.client_id.clone(),
                    subject: claims.sub.clone(),
                    scope: scope.clone(),
                    audience: claims.aud.clone(),
                    cnf_x5t_s256: claims.cnf.as_ref().map(|c| c.x5t_s256.clone()),
                    issued_at: now,
                    expires_at: claims.exp,
                    revoked_at: None,
                })
                .await?;
            token
        }
    };
    let format = match client.format {
        TokenFormat::Jwt => "jwt",
        TokenFormat::Opaque => "opaque",
    };
    audit::token_issued(
        &claims.jti,
        &client.client_id,
        claims.cnf.is_some(),
        format,
        &scope,
    );
    Ok(IssuedToken {
        access_token,
        expires_in: ttl,
        scope,
    })
}

/// What a presented token turned out to be.
#[derive(Debug)]
pub enum Lookup {
    /// One of ours, valid now.
    Active(AccessTokenClaims, TokenFormat),
    /// One of ours, but expired or revoked; carries what revocation needs.
    Dead(AccessTokenClaims, TokenFormat),
    /// Not a token we issued (or not verifiable).
    Unknown,
}

/// Verifies a JWT we signed, or finds an opaque token we stored.
pub async fn lookup(server: &AuthorizationServer, token: &str) -> Result<Lookup, OAuthError> {
    if token.len() > 8 * 1024 {
        return Ok(Lookup::Unknown);
    }
    if token.bytes().filter(|b| *b == b'.').count() == 2 {
        return lookup_jwt(server, token).await;
    }
    let Some(stored) = server.store.opaque_token(&token_hash(token)).await? else {
        return Ok(Lookup::Unknown);
    };
    let alive =
        stored.revoked_at.is_none() && stored.expires_at > server.keys.clock().unix_seconds();
    let claims = AccessTokenClaims {
        iss: server.settings.issuer.clone(),
        sub: stored.subject,
        aud: stored.audience,
        exp: stored.expires_at,
        iat: stored.issued_at,
        jti: stored.jti,
        client_id: stored.client_id,
        scope: (!stored.scope.is_empty()).then_some(stored.scope),
        cnf: stored
            .cnf_x5t_s256
            .map(|x5t_s256| Confirmation { x5t_s256 }),
    };
    Ok(if alive {
        Lookup::Active(claims, TokenFormat::Opaque)
    } else {
        Lookup::Dead(claims, TokenFormat::Opaque)
    })
}

/// The policy this server's own access tokens meet: RFC 9068 `typ`, our
/// issuer, our algorithms, `aud` one of `audiences` when given
/// (introspection and revocation answer for every audience we issue to, so
/// they pass `None`), and no leeway: the clock that set `exp` is ours.
pub fn access_token_policy(issuer: &str, audiences: Option<Vec<String>>) -> VerificationPolicy {
    VerificationPolicy {
        algorithms: SigningAlg::ALL.to_vec(),
        typ: Some(ACCESS_TOKEN_TYP.to_owned()),
        issuer: Some(issuer.to_owned()),
        audiences,
        leeway: 0,
        required: vec![
            RegisteredClaim::Exp,
            RegisteredClaim::Iss,
            RegisteredClaim::Sub,
        ],
    }
}

/// Verifies a JWT access token this server signed, except its time window
/// (revocation still needs an expired token's claims), accepting only
/// `audiences` when given. A `kid` we do not know sends us back to the
/// store at most once a second: another instance may have rotated a
/// moment ago.
pub async fn verify_jwt(
    server: &AuthorizationServer,
    token: &str,
    audiences: Option<Vec<String>>,
) -> Result<Signed<AccessTokenClaims>, JoseError> {
    JwtVerifier::new(access_token_policy(&server.settings.issuer, audiences))
        .verify_signed(token, server.keys.verification_keys())
        .await
}

async fn lookup_jwt(server: &AuthorizationServer, token: &str) -> Result<Lookup, OAuthError> {
    let signed = match verify_jwt(server, token, None).await {
        Ok(signed) => signed,
        Err(JoseError::KeysUnavailable(detail)) => {
            return Err(OAuthError::store_unavailable(&detail));
        }
        Err(_) => return Ok(Lookup::Unknown),
    };
    let alive = signed
        .check_time(server.keys.clock().unix_seconds())
        .is_ok()
        && !server.store.is_jti_revoked(&signed.claims.jti).await?;
    Ok(if alive {
        Lookup::Active(signed.claims, TokenFormat::Jwt)
    } else {
        Lookup::Dead(signed.claims, TokenFormat::Jwt)
    })
}

/// Revokes a token we issued; returns whether anything changed.
pub async fn revoke(
    server: &AuthorizationServer,
    token: &str,
    claims: &AccessTokenClaims,
    format: TokenFormat,
) -> Result<bool, OAuthError> {
    let now = crate::now();
    Ok(match format {
        TokenFormat::Jwt => {
            server
                .store
                .revoke_jti(&claims.jti, &claims.client_id, claims.exp, now)
                .await?;
            true
        }
        TokenFormat::Opaque => {
            server
                .store
                .revoke_opaque_token(&token_hash(token), now)
                .await?
        }
    })
}

/// How opaque tokens are stored: base64url SHA-256, never the value.
pub fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}
