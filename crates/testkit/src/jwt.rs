//! Reading a compact JWS without verifying it: tests check the claims the
//! issuer wrote and verify signatures elsewhere.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// The JSON of part `index` (0 header, 1 payload) of `token`, or `Null`
/// when that part is missing or not base64url JSON.
fn part(token: &str, index: usize) -> Value {
    token
        .split('.')
        .nth(index)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

/// The claims (payload) of a JWT, unverified; `Null` if it is not a JWT.
pub fn jwt_claims(token: &str) -> Value {
    part(token, 1)
}

/// The protected header of a JWT, unverified; `Null` if it is not a JWT.
pub fn jwt_header(token: &str) -> Value {
    part(token, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_header_and_claims_and_yields_null_for_garbage() {
        let token = format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256"}"#),
            URL_SAFE_NO_PAD.encode(br#"{"sub":"a"}"#)
        );
        assert_eq!(jwt_header(&token)["alg"], "ES256");
        assert_eq!(jwt_claims(&token)["sub"], "a");
        assert_eq!(jwt_claims("opaque"), Value::Null);
        assert_eq!(jwt_claims("a.!!.c"), Value::Null);
    }
}
