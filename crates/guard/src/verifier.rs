//! [`Guard`]: one presented token plus the connection's certificate in, a
//! [`VerifiedToken`] or an RFC 6750 error out.

use std::sync::Arc;
use std::time::Duration;

use certbound_core::claims::ACCESS_TOKEN_TYP;
use certbound_core::metadata::{AuthorizationServerMetadata, Endpoint, metadata_url};
use certbound_core::{AccessTokenClaims, Clock, SystemClock, Thumbprint};
use certbound_jose::{
    ASYMMETRIC_ALGORITHMS, JoseError, JwtVerifier, KeySetCache, RefetchPolicy, RegisteredClaim,
    VerificationPolicy,
};
use certbound_tls::TlsSettings;
use http::HeaderMap;
use serde::Deserialize;

use crate::GuardError;
use crate::bearer::locate;
use crate::error::InvalidToken;
use crate::fetch::Fetcher;
use crate::identity::{IdentityValues, RenderedIdentity};
use crate::introspection::Introspector;
use crate::jwks::JwksSource;
use crate::revocation::{RevocationOptions, Revocations, keep_polling};
use crate::verified::VerifiedCache;

/// What the guard checks and how it talks to the authorization server.
#[derive(Debug, Clone)]
pub struct GuardOptions {
    /// Expected `iss`; also where metadata is discovered.
    pub issuer: String,
    /// Accepted `aud` values: a token must name one of them. Never empty
    /// ([`Guard::discover`] refuses that), so the check cannot be skipped.
    pub audiences: Vec<String>,
    /// Refuse tokens without `cnf` (every token must be certificate-bound).
    /// On by default, as in the gateway: the guard is the same enforcement
    /// in-process, and an unbound token is a bearer token.
    pub require_bound_tokens: bool,
    /// Clock leeway for `exp` / `nbf`.
    pub leeway: Duration,
    /// An unknown `kid` triggers a JWKS refetch at most this often.
    pub jwks_min_refetch: Duration,
    /// Keys are refetched after this age even if every `kid` is known.
    pub jwks_max_age: Duration,
    /// Timeout of each call to the authorization server.
    pub http_timeout: Duration,
    /// Opaque tokens are introspected when this is set.
    pub introspection: Option<IntrospectionOptions>,
    /// Introspect JWTs too (revocation takes effect within the cache TTL,
    /// at the price of a call to the AS per new token).
    pub introspect_jwts: bool,
    /// Follow the AS's revocation list so revoked JWTs are refused within
    /// the poll interval while verification stays local.
    pub revocation: Option<RevocationOptions>,
    /// Where expiry checks and cache ages read the time ([`SystemClock`]
    /// unless a test moves it).
    pub clock: Arc<dyn Clock>,
}

/// How the guard introspects opaque tokens (RFC 7662), authenticating with
/// its own mTLS identity (the certificate in the [`TlsSettings`]).
#[derive(Debug, Clone)]
pub struct IntrospectionOptions {
    /// The guard's own `client_id` at the authorization server.
    pub client_id: String,
    /// How long an active answer is reused (never past the token's `exp`).
    pub positive_ttl: Duration,
    /// How long an inactive answer is reused.
    pub negative_ttl: Duration,
}

impl GuardOptions {
    /// Defaults for tokens from `issuer` meant for `audience` (this
    /// resource's identifier, the `aud` the AS puts in its tokens): only
    /// certificate-bound tokens, 5 s leeway, refetch at most every 5 s, keys
    /// refreshed every 5 min, 10 s timeouts, no introspection.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences: vec![audience.into()],
            require_bound_tokens: true,
            leeway: Duration::from_secs(5),
            jwks_min_refetch: Duration::from_secs(5),
            jwks_max_age: Duration::from_secs(300),
            http_timeout: Duration::from_secs(10),
            introspection: None,
            introspect_jwts: false,
            revocation: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// What a JWT access token must satisfy: RFC 9068 `typ`, this issuer,
    /// one of these audiences, an asymmetric algorithm (never HMAC).
    pub fn policy(&self) -> VerificationPolicy {
        VerificationPolicy {
            algorithms: ASYMMETRIC_ALGORITHMS.to_vec(),
            typ: Some(ACCESS_TOKEN_TYP.to_owned()),
            issuer: Some(self.issuer.clone()),
            audiences: Some(self.audiences.clone()),
            leeway: self.leeway.as_secs(),
            required: vec![
                RegisteredClaim::Exp,
                RegisteredClaim::Iss,
                RegisteredClaim::Sub,
            ],
        }
    }
}

/// A token that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The client the token was issued to.
    pub client_id: String,
    /// `sub`.
    pub subject: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// The certificate it is bound to (equal to the connection's), if bound.
    pub thumbprint: Option<Thumbprint>,
    /// `jti`.
    pub jti: String,
    /// `aud`.
    pub audience: String,
    /// `exp`, Unix seconds.
    pub expires_at: i64,
    /// The identity as header values, rendered on first use.
    pub(crate) identity: RenderedIdentity,
}

impl VerifiedToken {
    /// The identity as header values, rendered once for this token from
    /// its fields as they are at the first call.
    pub fn identity_values(&self) -> &IdentityValues {
        self.identity.get(self)
    }

    /// Fails with `insufficient_scope` unless every `required` scope was granted.
    pub fn require_scopes(&self, required: &[String]) -> Result<(), GuardError> {
        if required.iter().all(|r| self.scopes.contains(r)) {
            Ok(())
        } else {
            Err(GuardError::InsufficientScope {
                required: required.join(" "),
            })
        }
    }

    fn from_claims(claims: AccessTokenClaims) -> Result<Self, GuardError> {
        // A cnf we cannot read must not turn a bound token into an unbound one.
        let thumbprint = match &claims.cnf {
            None => None,
            Some(c) => Some(c.thumbprint().ok_or(GuardError::InvalidToken(
                InvalidToken::MalformedConfirmation,
            ))?),
        };
        Ok(Self {
            scopes: claims
                .scope
                .as_deref()
                .unwrap_or_default()
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            thumbprint,
            client_id: claims.client_id,
            subject: claims.sub,
            audience: claims.aud,
            jti: claims.jti,
            expires_at: claims.exp,
            identity: RenderedIdentity::default(),
        })
    }
}

/// Verifies access tokens for one authorization server. Cheap to clone.
#[derive(Clone)]
pub struct Guard(Arc<Inner>);

struct Inner {
    options: GuardOptions,
    jwks: KeySetCache<JwksSource>,
    verifier: JwtVerifier,
    introspector: Option<Introspector>,
    verified: VerifiedCache,
    revocations: Option<Arc<Revocations>>,
}

/// [`Guard::discover`] in two steps, for a caller that starts before its
/// authorization server and retries: [`Discovery::new`] checks what needs
/// no server, [`Discovery::attempt`] asks the server.
pub struct Discovery {
    options: GuardOptions,
    fetcher: Fetcher,
}

impl Discovery {
    /// Checks the options and builds the HTTP client: an error here is a
    /// configuration error, which no retry mends.
    pub fn new(options: GuardOptions, tls: &TlsSettings) -> Result<Self, GuardError> {
        // Tokens are verified with ring through jsonwebtoken.
        certbound_jose::install();
        if options.audiences.is_empty() || options.audiences.iter().any(String::is_empty) {
            return Err(GuardError::Setup(
                "no audience: set GuardOptions::audiences to the aud the authorization server puts in tokens for this resource".into(),
            ));
        }
        let fetcher = Fetcher::new(tls, options.http_timeout)?;
        Ok(Self { options, fetcher })
    }

    /// The options the guard will have.
    pub fn options(&self) -> &GuardOptions {
        &self.options
    }

    /// One attempt: the metadata (RFC 8414) and, with revocation on, a
    /// first read of the revocation list. [`GuardError::Unavailable`] when
    /// the server could not be reached or answered an error or no JSON (it
    /// may be starting); [`GuardError::Setup`] when its answer contradicts
    /// the options (another issuer, a missing endpoint, 401/403 to the
    /// guard's client). Keys are fetched on first use ([`Guard::preload`]
    /// fetches them now).
    pub async fn attempt(&self) -> Result<Guard, GuardError> {
        let options = self.options.clone();
        let fetcher = self.fetcher.clone();
        let url = metadata_url(&options.issuer);
        let metadata: AuthorizationServerMetadata =
            fetcher.get_json(&url).await.map_err(|e| match e {
                GuardError::Unavailable(d) => {
                    GuardError::Unavailable(format!("discovering {}: {d}", options.issuer))
                }
                other => GuardError::Setup(format!("discovering {}: {other}", options.issuer)),
            })?;
        if metadata.issuer.trim_end_matches('/') != options.issuer.trim_end_matches('/') {
            return Err(GuardError::Setup(format!(
                "{url} names issuer {}, expected {}",
                metadata.issuer, options.issuer
            )));
        }
        let jwks_uri = metadata
            .jwks_uri
            .clone()
            .ok_or_else(|| GuardError::Setup(format!("{url} has no jwks_uri")))?;
        let introspector = match &options.introspection {
            None => None,
            Some(o) => {
                let endpoint =
                    metadata
                        .mtls_endpoint(Endpoint::Introspection)
                        .ok_or_else(|| {
                            GuardError::Setup(format!("{url} has no introspection_endpoint"))
                        })?;
                Some(Introspector::new(
                    fetcher.clone(),
                    endpoint.to_owned(),
                    o.clone(),
                ))
            }
        };
        let revocations = match &options.revocation {
            None => None,
            Some(o) => {
                let endpoint = metadata
                    .mtls_endpoint(Endpoint::RevocationList)
                    .ok_or_else(|| {
                        GuardError::Setup(format!(
                            "{url} has no certbound_revocation_list_endpoint; turn revocation polling off or upgrade the authorization server"
                        ))
                    })?;
                let r = Arc::new(Revocations::new(
                    fetcher.clone(),
                    endpoint.to_owned(),
                    o.clone(),
                    Arc::clone(&options.clock),
                ));
                // The first poll now: a refusal (e.g. the client lacks
                // may_introspect) is a configuration error to see at once.
                let leeway = i64::try_from(options.leeway.as_secs()).unwrap_or(i64::MAX);
                r.poll(leeway).await.map_err(|e| {
                    let why = format!(
                        "reading the revocation list as client {:?} (it needs may_introspect at the authorization server): {e}",
                        o.client_id
                    );
                    match e {
                        GuardError::Unavailable(_) => GuardError::Unavailable(why),
                        _ => GuardError::Setup(why),
                    }
                })?;
                tokio::spawn(keep_polling(Arc::downgrade(&r), o.poll_interval, leeway));
                Some(r)
            }
        };
        let jwks = KeySetCache::new(
            JwksSource {
                fetcher,
                url: jwks_uri,
            },
            RefetchPolicy {
                min_refetch: options.jwks_min_refetch,
                max_age: options.jwks_max_age,
            },
            Arc::clone(&options.clock),
        );
        let verifier = JwtVerifier::new(options.policy());
        Ok(Guard(Arc::new(Inner {
            options,
            jwks,
            verifier,
            introspector,
            verified: VerifiedCache::default(),
            revocations,
        })))
    }
}

impl Guard {
    /// Discovers the authorization server's metadata (RFC 8414). Keys are
    /// fetched on first use, so the guard starts even if the JWKS is briefly down.
    pub async fn discover(options: GuardOptions, tls: &TlsSettings) -> Result<Self, GuardError> {
        Discovery::new(options, tls)?.attempt().await
    }

    /// Fetches the signing keys now rather than for the first token, so a
    /// caller knows tokens can be verified; returns how many are usable.
    /// Nothing is fetched when every token is introspected. A set with no
    /// usable key is [`GuardError::Setup`].
    pub async fn preload(&self) -> Result<usize, GuardError> {
        if self.introspects_all() {
            return Ok(0);
        }
        let url = &self.0.jwks.source().url;
        let set = self.0.jwks.reload().await.map_err(|e| {
            let detail = match e {
                JoseError::KeysUnavailable(d) => d,
                other => format!("{url}: {other}"),
            };
            GuardError::Unavailable(format!("fetching the signing keys: {detail}"))
        })?;
        if set.is_empty() {
            return Err(GuardError::Setup(format!(
                "{url} publishes no key the guard can verify tokens with"
            )));
        }
        Ok(set.len())
    }

    /// Whether every token is refused because the revocation list has not
    /// been refreshed for longer than its `max_staleness`.
    pub fn revocation_list_stale(&self) -> bool {
        self.0.revocations.as_ref().is_some_and(|r| r.stale())
    }

    /// The options in force.
    pub fn options(&self) -> &GuardOptions {
        &self.0.options
    }

    /// Verifies the request's token and its binding to `certificate` (the
    /// thumbprint of the certificate on this request's connection).
    pub async fn verify(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
        certificate: Option<Thumbprint>,
    ) -> Result<VerifiedToken, GuardError> {
        self.verify_shared(headers, query, certificate)
            .await
            .map(Arc::unwrap_or_clone)
    }

    /// [`Guard::verify`], sharing the verified token with the guard's cache
    /// instead of copying it: the per-request form for proxies.
    pub async fn verify_shared(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
        certificate: Option<Thumbprint>,
    ) -> Result<Arc<VerifiedToken>, GuardError> {
        let located = locate(headers, query)?;
        // Only verified JWTs are cached: base64url segments and dots, so a
        // well-formed b64token. An exact match needs no scan of its bytes.
        let cached = located.unchecked_bearer().and_then(|raw| self.cached(raw));
        let verified = match cached {
            Some(hit) => hit,
            // Boxed: the miss path (JWKS fetch, introspection) is a large
            // future, and inline it would make every request's future that big.
            None => Box::pin(self.verify_uncached(located.token()?)).await?,
        };
        // Cache hits too: a token verified before its revocation must stop working.
        if let Some(r) = &self.0.revocations {
            r.check(&verified.jti)?;
        }
        match (verified.thumbprint, certificate) {
            (Some(bound), Some(presented)) if bound == presented => {}
            (Some(_), Some(_)) => {
                return Err(GuardError::InvalidToken(InvalidToken::OtherCertificate));
            }
            (Some(_), None) => {
                return Err(GuardError::InvalidToken(InvalidToken::CertificateRequired));
            }
            (None, _) if self.0.options.require_bound_tokens => {
                return Err(GuardError::InvalidToken(InvalidToken::NotBound));
            }
            (None, _) => {}
        }
        Ok(verified)
    }

    /// The verified-JWT cache's entry for these exact token bytes, if usable
    /// now. Only JWTs that passed every check are cached, so a hit needs no
    /// more parsing. Never a hit when every token is introspected.
    fn cached(&self, token: &[u8]) -> Option<Arc<VerifiedToken>> {
        if self.introspects_all() {
            return None;
        }
        let now = self.0.options.clock.unix_seconds();
        let leeway = i64::try_from(self.0.options.leeway.as_secs()).unwrap_or(i64::MAX);
        self.0
            .verified
            .get(token, now, leeway, self.0.jwks.generation())
    }

    fn introspects_all(&self) -> bool {
        self.0.options.introspect_jwts && self.0.introspector.is_some()
    }

    /// The token's claims from the JWKS or introspection, after a cache miss.
    async fn verify_uncached(&self, token: &str) -> Result<Arc<VerifiedToken>, GuardError> {
        if self.introspects_all() {
            return self.introspect(token).await;
        }
        let now = self.0.options.clock.unix_seconds();
        let generation = self.0.jwks.generation();
        let is_jwt = token.bytes().filter(|b| *b == b'.').count() == 2;
        if !is_jwt {
            return self.introspect(token).await;
        }
        let verified = Arc::new(self.verify_jwt_fully(token).await?);
        // The generation read before verifying: a set fetched meanwhile
        // makes this entry unusable rather than wrongly current.
        self.0.verified.insert(token, &verified, generation, now);
        Ok(verified)
    }

    async fn introspect(&self, token: &str) -> Result<Arc<VerifiedToken>, GuardError> {
        match &self.0.introspector {
            Some(i) => i.introspect(token, &self.0.options).await.map(Arc::new),
            None => Err(GuardError::InvalidToken(InvalidToken::OpaqueNotAccepted)),
        }
    }

    async fn verify_jwt_fully(&self, token: &str) -> Result<VerifiedToken, GuardError> {
        let now = self.0.options.clock.unix_seconds();
        let claims = self
            .0
            .verifier
            .verify::<AccessTokenClaims>(token, &self.0.jwks, now)
            .await
            .map_err(|e| match e {
                JoseError::Rejected(why) => GuardError::InvalidToken(why.into()),
                // A kid the keys could not be refreshed for may be a new key.
                other => GuardError::Unavailable(other.to_string()),
            })?;
        VerifiedToken::from_claims(claims)
    }
}

/// The fields of an RFC 7662 response the guard uses.
#[derive(Debug, Deserialize)]
pub(crate) struct IntrospectionResponse {
    pub(crate) active: bool,
    #[serde(flatten)]
    pub(crate) claims: Option<AccessTokenClaims>,
}

impl IntrospectionResponse {
    pub(crate) fn into_verified(
        self,
        options: &GuardOptions,
    ) -> Result<Option<VerifiedToken>, GuardError> {
        if !self.active {
            return Ok(None);
        }
        let claims = self.claims.ok_or_else(|| {
            GuardError::Unavailable(
                "introspection answered active without the token's claims".into(),
            )
        })?;
        if claims.iss != options.issuer {
            return Err(GuardError::InvalidToken(InvalidToken::WrongIssuer));
        }
        if !options.audiences.contains(&claims.aud) {
            return Err(GuardError::InvalidToken(InvalidToken::WrongAudience));
        }
        VerifiedToken::from_claims(claims).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_cnf_is_not_an_unbound_token() {
        let claims = |x5t: &str| AccessTokenClaims {
            iss: "https://as".into(),
            sub: "a".into(),
            aud: "x".into(),
            exp: 1,
            iat: 0,
            jti: "j".into(),
            client_id: "a".into(),
            scope: Some("read  write".into()),
            cnf: Some(certbound_core::Confirmation {
                x5t_s256: x5t.into(),
            }),
        };
        let good = Thumbprint::of_der(b"cert").to_string();
        let ok = VerifiedToken::from_claims(claims(&good));
        assert_eq!(ok.as_ref().map(|t| t.scopes.len()), Ok(2));
        assert_eq!(
            ok.map(|t| t.thumbprint),
            Ok(Some(Thumbprint::of_der(b"cert")))
        );
        for bad in ["", "AAAA", &format!("{good}="), &"00".repeat(32)] {
            assert!(
                matches!(
                    VerifiedToken::from_claims(claims(bad)),
                    Err(GuardError::InvalidToken(
                        InvalidToken::MalformedConfirmation
                    ))
                ),
                "{bad}"
            );
        }
    }
}
