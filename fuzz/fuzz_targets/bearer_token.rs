//! The Bearer token of a request (RFC 6750 §2.1), as the guard and gateway
//! read it. Input: the first line is the query string (none when empty),
//! each further line one `Authorization` header value. The vectorised
//! reader must agree with the straightforward reading of the RFC.
#![no_main]

use certbound_guard::{GuardError, bearer_token};
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

fn b64token(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b))
}

/// RFC 6750 read plainly, on a single header value (as the unit tests' reference).
fn reference(value: &HeaderValue) -> Result<&str, GuardError> {
    let not_ascii = || GuardError::InvalidRequest("the Authorization header is not ASCII".into());
    let text = value.to_str().map_err(|_| not_ascii())?;
    let (scheme, token) = text
        .trim()
        .split_once(' ')
        .ok_or(GuardError::MissingToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(GuardError::MissingToken);
    }
    let token = token.trim();
    if !b64token(token) {
        return Err(GuardError::InvalidToken(
            certbound_guard::InvalidToken::MalformedBearer,
        ));
    }
    Ok(token)
}

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|b| *b == b'\n');
    let query = lines
        .next()
        .and_then(|q| std::str::from_utf8(q).ok())
        .filter(|q| !q.is_empty());
    let mut headers = HeaderMap::new();
    for line in lines {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(AUTHORIZATION, value);
        }
    }
    let got = bearer_token(&headers, query);
    let query_token = query.is_some_and(|q| {
        q.split('&')
            .any(|p| p == "access_token" || p.starts_with("access_token="))
    });
    let values: Vec<&HeaderValue> = headers.get_all(AUTHORIZATION).iter().collect();
    match (query_token, values.as_slice()) {
        (true, _) => assert!(
            matches!(got, Err(GuardError::InvalidRequest(_))),
            "a token in the query string was not refused: {got:?}"
        ),
        (false, []) => assert_eq!(got, Err(GuardError::MissingToken)),
        (false, [one]) => assert_eq!(got, reference(one), "header {one:?}"),
        (false, _) => assert!(
            matches!(got, Err(GuardError::InvalidRequest(_))),
            "repeated Authorization headers were not refused: {got:?}"
        ),
    }
    if let Ok(token) = got {
        assert!(b64token(token), "not a b64token: {token:?}");
    }
});
