//! JWT verification under an explicit [`VerificationPolicy`]: the one
//! implementation behind access tokens today and ID tokens, request
//! objects, client assertions and DPoP proofs later.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::JoseError;

/// A verification key and the algorithms it may be used with.
pub struct VerificationKey {
    /// Algorithms a JWS verified with this key may name.
    pub algorithms: Vec<Algorithm>,
    /// The key.
    pub key: DecodingKey,
}

/// A registered claim a policy can require (RFC 7519 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegisteredClaim {
    /// `exp`.
    Exp,
    /// `nbf`.
    Nbf,
    /// `iss`.
    Iss,
    /// `sub`.
    Sub,
    /// `aud`.
    Aud,
}

impl RegisteredClaim {
    /// The claim's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exp => "exp",
            Self::Nbf => "nbf",
            Self::Iss => "iss",
            Self::Sub => "sub",
            Self::Aud => "aud",
        }
    }
}

/// Why a JWT was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Not a parseable JWS compact serialization (header, claims or base64).
    Malformed,
    /// The header has no `kid`.
    MissingKid,
    /// No key is published under the `kid`.
    UnknownKid,
    /// The header's `alg` is not one the policy allows.
    AlgorithmNotAllowed,
    /// The header's `alg` is not one the key may be used with.
    AlgorithmMismatch,
    /// The signature does not verify.
    BadSignature,
    /// The header's `typ` is not the expected one.
    WrongType,
    /// `iss` is not the expected issuer.
    WrongIssuer,
    /// `aud` names none of the accepted audiences.
    WrongAudience,
    /// `exp` has passed (beyond the leeway).
    Expired,
    /// `nbf` lies ahead (beyond the leeway).
    NotYetValid,
    /// A claim the policy requires is absent.
    MissingClaim(RegisteredClaim),
    /// The claims do not have the expected shape.
    InvalidClaims,
}

/// What a JWT must satisfy. Every field is explicit: a verifier that skips
/// a check says so here.
#[derive(Debug, Clone)]
pub struct VerificationPolicy {
    /// The `alg` values accepted; HMAC never belongs here (see [`crate::KeySet`]).
    pub algorithms: Vec<Algorithm>,
    /// The expected `typ` (e.g. `at+jwt`), compared case-insensitively and
    /// with or without the `application/` prefix (RFC 8725 §3.11); `None`
    /// accepts any `typ`.
    pub typ: Option<String>,
    /// The expected `iss`; `None` does not check it.
    pub issuer: Option<String>,
    /// Accepted `aud` values (one must match); `None` does not check `aud`.
    pub audiences: Option<Vec<String>>,
    /// Seconds of clock skew allowed for `exp` and `nbf`.
    pub leeway: u64,
    /// Registered claims that must be present.
    pub required: Vec<RegisteredClaim>,
}

/// The registered time claims, read from the payload whatever the claims
/// type is, so `exp` and `nbf` are checked even when `T` does not carry them.
#[derive(Deserialize)]
struct TimeClaims {
    exp: Option<i64>,
    nbf: Option<i64>,
}

/// Where a verifier finds the key for a `kid`.
pub trait KeyLookup: Sync {
    /// The key published under `kid`; `Ok(None)` when the current set,
    /// known to be current, lacks it; `Err` when the keys could not be
    /// obtained ([`JoseError::KeysUnavailable`]).
    fn key(
        &self,
        kid: &str,
    ) -> impl Future<Output = Result<Option<Arc<VerificationKey>>, JoseError>> + Send;
}

/// A JWT whose signature, header and non-time claims passed; its time
/// window is checked by [`Signed::check_time`].
#[derive(Debug, Clone)]
pub struct Signed<T> {
    /// The claims.
    pub claims: T,
    exp: Option<i64>,
    nbf: Option<i64>,
    leeway: u64,
}

impl<T> Signed<T> {
    /// `exp`, Unix seconds.
    pub fn expires_at(&self) -> Option<i64> {
        self.exp
    }

    /// Checks `exp` and `nbf` against `now` (Unix seconds): valid while
    /// `now < exp + leeway` (RFC 7519 §4.1.4) and from `nbf - leeway`.
    pub fn check_time(&self, now: i64) -> Result<(), JoseError> {
        let leeway = i64::try_from(self.leeway).unwrap_or(i64::MAX);
        if self
            .exp
            .is_some_and(|exp| now >= exp.saturating_add(leeway))
        {
            return Err(Rejection::Expired.into());
        }
        if self.nbf.is_some_and(|nbf| now < nbf.saturating_sub(leeway)) {
            return Err(Rejection::NotYetValid.into());
        }
        Ok(())
    }

    /// The claims, if valid at `now`.
    pub fn at(self, now: i64) -> Result<T, JoseError> {
        self.check_time(now)?;
        Ok(self.claims)
    }
}

/// A [`VerificationPolicy`] prepared once: one jsonwebtoken `Validation`
/// per allowed algorithm, so verifying builds none.
#[derive(Debug, Clone)]
pub struct JwtVerifier {
    policy: VerificationPolicy,
    validations: Vec<(Algorithm, Validation)>,
}

impl JwtVerifier {
    /// Prepares `policy`.
    pub fn new(policy: VerificationPolicy) -> Self {
        // Every jsonwebtoken verification goes through here or a key the
        // caller built after installing the provider.
        crate::install();
        let validations = policy
            .algorithms
            .iter()
            .map(|alg| (*alg, validation(&policy, *alg)))
            .collect();
        Self {
            policy,
            validations,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &VerificationPolicy {
        &self.policy
    }

    /// Verifies `token` completely, its time window against `now`.
    pub async fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        keys: &impl KeyLookup,
        now: i64,
    ) -> Result<T, JoseError> {
        self.verify_signed(token, keys).await?.at(now)
    }

    /// Verifies everything but the time window: for callers that must still
    /// read an expired token (revocation of a token we issued).
    pub async fn verify_signed<T: DeserializeOwned>(
        &self,
        token: &str,
        keys: &impl KeyLookup,
    ) -> Result<Signed<T>, JoseError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Malformed)?;
        let validation = self
            .validations
            .iter()
            .find(|(alg, _)| *alg == header.alg)
            .map(|(_, v)| v)
            .ok_or(Rejection::AlgorithmNotAllowed)?;
        if let Some(expected) = &self.policy.typ
            && !header
                .typ
                .as_deref()
                .is_some_and(|t| typ_matches(t, expected))
        {
            return Err(Rejection::WrongType.into());
        }
        let kid = header.kid.as_deref().ok_or(Rejection::MissingKid)?;
        let key = keys.key(kid).await?.ok_or(Rejection::UnknownKid)?;
        if !key.algorithms.contains(&header.alg) {
            return Err(Rejection::AlgorithmMismatch.into());
        }
        let data = jsonwebtoken::decode::<T>(token, &key.key, validation)
            .map_err(|e| rejection(e.kind()))?;
        let time = time_claims(token).ok_or(Rejection::InvalidClaims)?;
        Ok(Signed {
            claims: data.claims,
            exp: time.exp,
            nbf: time.nbf,
            leeway: self.policy.leeway,
        })
    }
}

/// `exp` and `nbf` of a token whose signature has been verified.
fn time_claims(token: &str) -> Option<TimeClaims> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&B64.decode(payload).ok()?).ok()
}

/// `typ` comparison per RFC 8725 §3.11 / RFC 7515 §4.1.9.
fn typ_matches(typ: &str, expected: &str) -> bool {
    let bare = |t: &str| -> String {
        let lower = t.to_ascii_lowercase();
        lower
            .strip_prefix("application/")
            .map_or(lower.clone(), str::to_owned)
    };
    bare(typ) == bare(expected)
}

fn validation(policy: &VerificationPolicy, alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    // Time is checked against the caller's clock in `Signed::check_time`.
    v.validate_exp = false;
    v.validate_nbf = false;
    v.leeway = policy.leeway;
    v.required_spec_claims = policy
        .required
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect::<HashSet<_>>();
    match &policy.issuer {
        Some(iss) => v.set_issuer(&[iss]),
        None => v.iss = None,
    }
    match &policy.audiences {
        Some(auds) => v.set_audience(auds),
        None => v.validate_aud = false,
    }
    v
}

fn rejection(kind: &ErrorKind) -> Rejection {
    match kind {
        ErrorKind::InvalidSignature => Rejection::BadSignature,
        ErrorKind::InvalidIssuer => Rejection::WrongIssuer,
        ErrorKind::InvalidAudience => Rejection::WrongAudience,
        ErrorKind::ExpiredSignature => Rejection::Expired,
        ErrorKind::ImmatureSignature => Rejection::NotYetValid,
        ErrorKind::InvalidAlgorithm => Rejection::AlgorithmMismatch,
        ErrorKind::MissingRequiredClaim(name) => match name.as_str() {
            "exp" => Rejection::MissingClaim(RegisteredClaim::Exp),
            "nbf" => Rejection::MissingClaim(RegisteredClaim::Nbf),
            "iss" => Rejection::MissingClaim(RegisteredClaim::Iss),
            "sub" => Rejection::MissingClaim(RegisteredClaim::Sub),
            _ => Rejection::MissingClaim(RegisteredClaim::Aud),
        },
        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => Rejection::Malformed,
        _ => Rejection::InvalidClaims,
    }
}
