//! Tying an interaction to the browser that started it: a random secret in
//! a `__Host-` cookie (its hash in the interaction) and the CSRF token its
//! forms carry.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderValue, header};
use ring::hmac;
use subtle::ConstantTimeEq;

use crate::tokens::token_hash;

/// The browser cookie: `__Host-` so only this origin over HTTPS can set
/// it, with no `Domain` and `Path=/`.
pub const BROWSER_COOKIE: &str = "__Host-certbound-browser";

/// Length of a base64url-encoded 32-byte secret.
const SECRET_CHARS: usize = 43;

/// The browser secret the request carries, when it looks like one of ours.
pub fn browser_secret(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == BROWSER_COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| {
            v.len() == SECRET_CHARS
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// `Set-Cookie` for a new browser secret. A session cookie: it outlives no
/// browser session, and an interaction lives ten minutes anyway.
pub fn set_cookie(secret: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{BROWSER_COOKIE}={secret}; Secure; HttpOnly; SameSite=Lax; Path=/"
    ))
    .ok()
}

/// A fresh 256-bit secret, base64url.
pub fn new_secret() -> Result<String, crate::ServerError> {
    Ok(URL_SAFE_NO_PAD.encode(crate::random_bytes::<32>()?))
}

/// The CSRF token of an interaction's forms in one browser: a MAC of the
/// handle under the browser's secret. Unpredictable without that secret,
/// different per interaction, and recomputable from the cookie whenever a
/// page is shown, so only its hash needs storing.
pub fn csrf_token(browser_secret: &str, handle: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, browser_secret.as_bytes());
    let tag = hmac::sign(&key, format!("certbound csrf\0{handle}").as_bytes());
    URL_SAFE_NO_PAD.encode(tag.as_ref())
}

/// Whether `presented` hashes to `stored_hash`, in constant time.
pub fn hash_matches(presented: &str, stored_hash: &str) -> bool {
    token_hash(presented)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_is_found_among_others_and_must_look_like_a_secret() {
        let secret = "a".repeat(43);
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("x=1; {BROWSER_COOKIE}={secret}; y=2"))
                .unwrap_or(HeaderValue::from_static("")),
        );
        assert_eq!(browser_secret(&h), Some(secret));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("__Host-certbound-browser=short"),
        );
        assert_eq!(browser_secret(&h), None);
    }

    #[test]
    fn csrf_tokens_differ_per_browser_and_interaction() {
        let a = csrf_token("secret-a", "h1");
        assert_eq!(a, csrf_token("secret-a", "h1"));
        assert_ne!(a, csrf_token("secret-b", "h1"));
        assert_ne!(a, csrf_token("secret-a", "h2"));
        assert!(hash_matches(&a, &token_hash(&a)));
        assert!(!hash_matches("x", &token_hash(&a)));
    }
}
