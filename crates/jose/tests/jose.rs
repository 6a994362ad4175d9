//! The public JOSE API: JWKs and thumbprints, key generation, verification
//! under a policy, and the key-set cache's refetch rules.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use certbound_core::{Clock, ManualClock};
use certbound_jose::jwk::{rsa_params, signing_jwk};
use certbound_jose::{
    JoseError, JwsSigner, JwtVerifier, KeySet, KeySetCache, KeySource, RefetchPolicy,
    RegisteredClaim, Rejection, VerificationPolicy, generate, thumbprint,
};
use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use serde_json::{Value, json};

/// RFC 7638 §3.1: the example RSA key and its thumbprint.
#[test]
fn rfc7638_example_thumbprint() {
    let jwk: Jwk = serde_json::from_value(json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    }))
    .unwrap();
    assert_eq!(
        thumbprint(&jwk).unwrap(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn a_signing_jwk_carries_its_thumbprint_as_kid() {
    let jwk = signing_jwk(Algorithm::RS256, rsa_params(&[0xd2, 0xfc], &[1, 0, 1])).unwrap();
    let value = serde_json::to_value(&jwk).unwrap();
    assert_eq!(value["kty"], "RSA");
    assert_eq!(value["use"], "sig");
    assert_eq!(value["alg"], "RS256");
    assert_eq!(value["e"], "AQAB");
    assert_eq!(
        value["kid"].as_str(),
        Some(thumbprint(&jwk).unwrap().as_str())
    );
}

fn policy() -> VerificationPolicy {
    VerificationPolicy {
        algorithms: vec![
            Algorithm::ES256,
            Algorithm::EdDSA,
            Algorithm::PS256,
            Algorithm::RS256,
        ],
        typ: Some("at+jwt".into()),
        issuer: Some("https://as.example".into()),
        audiences: Some(vec!["api".into()]),
        leeway: 5,
        required: vec![
            RegisteredClaim::Exp,
            RegisteredClaim::Iss,
            RegisteredClaim::Sub,
        ],
    }
}

fn signer_and_set(alg: Algorithm) -> (JwsSigner, KeySet) {
    let key = generate(alg).unwrap();
    let signer = JwsSigner::from_pkcs8_pem(alg, key.private_key_pem.as_bytes(), key.kid.clone())
        .unwrap()
        .with_typ("at+jwt")
        .unwrap();
    let set = KeySet::from_values(vec![serde_json::to_value(&key.public_jwk).unwrap()]);
    assert_eq!(set.len(), 1);
    (signer, set)
}

fn claims(now: i64) -> Value {
    json!({"iss": "https://as.example", "sub": "c", "aud": "api", "exp": now + 60, "nbf": now - 1})
}

#[tokio::test]
async fn generated_keys_sign_and_verify_for_every_server_algorithm() {
    let now = 1_800_000_000;
    for alg in [
        Algorithm::ES256,
        Algorithm::EdDSA,
        Algorithm::PS256,
        Algorithm::RS256,
    ] {
        let (signer, set) = signer_and_set(alg);
        assert_eq!(signer.kid().len(), 43);
        let token = signer.sign_claims(&claims(now)).unwrap();
        let verifier = JwtVerifier::new(policy());
        let got: Value = verifier.verify(&token, &set, now).await.unwrap();
        assert_eq!(got["sub"], "c", "{alg:?}");
    }
}

fn rejected(r: Result<Value, JoseError>) -> Rejection {
    match r {
        Err(JoseError::Rejected(why)) => why,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn every_rule_of_the_policy_has_its_own_rejection() {
    let now = 1_800_000_000;
    let (signer, set) = signer_and_set(Algorithm::ES256);
    let verifier = JwtVerifier::new(policy());
    let sign = |c: &Value| signer.sign_claims(c).unwrap();
    let verify = |t: String, at: i64| {
        let (v, s) = (&verifier, &set);
        async move { v.verify::<Value>(&t, s, at).await }
    };

    // The `application/` prefix and case do not matter.
    let mut header = signer.header();
    header.typ = Some("Application/AT+JWT".into());
    assert!(
        verify(signer.sign(&header, &claims(now)).unwrap(), now)
            .await
            .is_ok()
    );

    assert_eq!(
        rejected(verify("not.a.jwt".into(), now).await),
        Rejection::Malformed
    );
    header.typ = Some("JWT".into());
    let wrong_typ = signer.sign(&header, &claims(now)).unwrap();
    assert_eq!(rejected(verify(wrong_typ, now).await), Rejection::WrongType);
    let mut c = claims(now);
    c["iss"] = json!("https://other");
    assert_eq!(
        rejected(verify(sign(&c), now).await),
        Rejection::WrongIssuer
    );
    let mut c = claims(now);
    c["aud"] = json!("elsewhere");
    assert_eq!(
        rejected(verify(sign(&c), now).await),
        Rejection::WrongAudience
    );
    let mut c = claims(now);
    c.as_object_mut().unwrap().remove("sub");
    assert_eq!(
        rejected(verify(sign(&c), now).await),
        Rejection::MissingClaim(RegisteredClaim::Sub)
    );
    // Leeway 5 s on both ends.
    assert!(verify(sign(&claims(now)), now + 64).await.is_ok());
    assert_eq!(
        rejected(verify(sign(&claims(now)), now + 65).await),
        Rejection::Expired
    );
    assert_eq!(
        rejected(verify(sign(&claims(now)), now - 7).await),
        Rejection::NotYetValid
    );

    let token = sign(&claims(now));
    let mut parts: Vec<&str> = token.split('.').collect();
    let other =
        sign(&json!({"iss": "https://as.example", "sub": "d", "aud": "api", "exp": now + 60}));
    let other_payload = other.split('.').nth(1).unwrap().to_owned();
    parts[1] = &other_payload;
    assert_eq!(
        rejected(verify(parts.join("."), now).await),
        Rejection::BadSignature
    );

    let (stranger, _) = signer_and_set(Algorithm::ES256);
    assert_eq!(
        rejected(verify(stranger.sign_claims(&claims(now)).unwrap(), now).await),
        Rejection::UnknownKid
    );
    let mut no_kid = signer.header();
    no_kid.kid = None;
    no_kid.typ = Some("at+jwt".into());
    assert_eq!(
        rejected(verify(signer.sign(&no_kid, &claims(now)).unwrap(), now).await),
        Rejection::MissingKid
    );

    let es_only = JwtVerifier::new(VerificationPolicy {
        algorithms: vec![Algorithm::EdDSA],
        ..policy()
    });
    assert_eq!(
        rejected(es_only.verify::<Value>(&token, &set, now).await),
        Rejection::AlgorithmNotAllowed
    );
}

/// A source that counts loads and can be switched to failing.
struct Counting {
    loads: AtomicUsize,
    failing: std::sync::atomic::AtomicBool,
    jwks: std::sync::Mutex<Vec<Value>>,
}

struct Src(Arc<Counting>);

impl KeySource for Src {
    type Set = KeySet;

    async fn load(&self) -> Result<KeySet, JoseError> {
        let this = &self.0;
        this.loads.fetch_add(1, Ordering::SeqCst);
        if this.failing.load(Ordering::SeqCst) {
            return Err(JoseError::KeysUnavailable("source down".into()));
        }
        Ok(KeySet::from_values(this.jwks.lock().unwrap().clone()))
    }
}

#[tokio::test]
async fn the_cache_rate_limits_refetches_and_keeps_the_last_good_set() {
    let first = generate(Algorithm::ES256).unwrap();
    let second = generate(Algorithm::EdDSA).unwrap();
    let source = Arc::new(Counting {
        loads: AtomicUsize::new(0),
        failing: false.into(),
        jwks: std::sync::Mutex::new(vec![serde_json::to_value(&first.public_jwk).unwrap()]),
    });
    let clock = Arc::new(ManualClock::new());
    let cache = KeySetCache::new(
        Src(Arc::clone(&source)),
        RefetchPolicy {
            min_refetch: Duration::from_secs(5),
            max_age: Duration::from_secs(300),
        },
        Arc::clone(&clock) as Arc<dyn Clock>,
    );
    assert!(cache.lookup(&first.kid).await.unwrap().is_some());
    let generation = cache.generation();
    // Unknown kid: no load until min_refetch has passed since the last one.
    assert!(cache.lookup(&second.kid).await.unwrap().is_none());
    assert!(cache.lookup(&second.kid).await.unwrap().is_none());
    assert_eq!(source.loads.load(Ordering::SeqCst), 1);
    source
        .jwks
        .lock()
        .unwrap()
        .push(serde_json::to_value(&second.public_jwk).unwrap());
    assert!(cache.lookup(&second.kid).await.unwrap().is_none());
    clock.advance(Duration::from_secs(5));
    assert!(cache.lookup(&second.kid).await.unwrap().is_some());
    assert_eq!(source.loads.load(Ordering::SeqCst), 2);
    assert_ne!(cache.generation(), generation);

    // The source fails: known keys keep serving, unknown ones are unavailable.
    source.failing.store(true, Ordering::SeqCst);
    clock.advance(Duration::from_secs(301));
    assert!(cache.current().await.is_ok());
    assert!(cache.lookup(&first.kid).await.unwrap().is_some());
    assert!(matches!(
        cache.lookup("new-kid").await,
        Err(JoseError::KeysUnavailable(_))
    ));
}

#[test]
fn rs_keys_are_rsa_jwks() {
    let key = generate(Algorithm::PS256).unwrap();
    assert!(matches!(
        key.public_jwk.algorithm,
        AlgorithmParameters::RSA(_)
    ));
    assert!(
        key.private_key_pem
            .starts_with("-----BEGIN PRIVATE KEY-----\n")
    );
}
