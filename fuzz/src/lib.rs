//! Fixtures shared by the fuzz targets: one single-threaded runtime, and
//! a fixed Ed25519 signing key with the verifier the guard would build, so
//! generated tokens get past the signature check to the claims reader.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use certbound_guard::GuardOptions;
use certbound_jose::{JwtVerifier, KeySet};
use ring::signature::{Ed25519KeyPair, KeyPair};

/// `iss` the token targets expect.
pub const ISSUER: &str = "https://as.example";
/// `aud` the token targets expect.
pub const AUDIENCE: &str = "https://api.example";
/// `kid` of the fixed key.
pub const KID: &str = "fuzz";
/// The time tokens are verified at (2026-11-29), fixed so runs reproduce.
pub const NOW: i64 = 1_795_910_400;

/// A current-thread runtime, built once, for the async parsers.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime")
    })
}

/// The guard's options for [`ISSUER`] and [`AUDIENCE`].
pub fn guard_options() -> &'static GuardOptions {
    static OPTIONS: OnceLock<GuardOptions> = OnceLock::new();
    OPTIONS.get_or_init(|| GuardOptions::new(ISSUER, AUDIENCE))
}

/// The verifier the guard builds for [`guard_options`] (RFC 9068 `typ`,
/// issuer, audience, asymmetric algorithms only).
pub fn verifier() -> &'static JwtVerifier {
    static VERIFIER: OnceLock<JwtVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| JwtVerifier::new(guard_options().policy()))
}

fn signing_key() -> &'static Ed25519KeyPair {
    static KEY: OnceLock<Ed25519KeyPair> = OnceLock::new();
    KEY.get_or_init(|| {
        Ed25519KeyPair::from_seed_unchecked(&[7; 32]).expect("an Ed25519 key from a fixed seed")
    })
}

/// The public half of the fixed key, as the only key of a JWKS.
pub fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| {
        let x = URL_SAFE_NO_PAD.encode(signing_key().public_key().as_ref());
        KeySet::from_values(vec![serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "x": x,
            "kid": KID, "alg": "EdDSA", "use": "sig",
        })])
    })
}

/// A JWS compact serialization of `header` and `payload` (any bytes, used
/// as they are) signed with the fixed key.
pub fn sign(header: &[u8], payload: &[u8]) -> String {
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let signature = signing_key().sign(token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut token);
    token
}

/// Checks what every accepted access token must satisfy under the guard's
/// policy, whatever path it took through the parser.
pub fn check_accepted(claims: &certbound_core::AccessTokenClaims) {
    assert_eq!(claims.iss, ISSUER, "accepted a token from another issuer");
    assert_eq!(
        claims.aud, AUDIENCE,
        "accepted a token for another audience"
    );
    let leeway = i64::try_from(guard_options().leeway.as_secs()).unwrap_or(i64::MAX);
    assert!(
        NOW < claims.exp.saturating_add(leeway),
        "accepted an expired token (exp {})",
        claims.exp
    );
}
