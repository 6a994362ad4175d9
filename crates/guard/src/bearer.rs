//! Reading the Bearer token of a request (RFC 6750 §2.1). This runs on every
//! request over a token of several hundred bytes, so the byte checks are
//! written to vectorise.

use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::GuardError;
use crate::error::InvalidToken;

/// Whether `b` may appear in an RFC 6750 `b64token`. Branch-free, so the
/// check over a whole token compiles to vector instructions.
const fn b64token_byte(b: u8) -> bool {
    let lower = b | 0x20;
    (lower.wrapping_sub(b'a') < 26)
        | (b.wrapping_sub(b'0') < 10)
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
        | (b == b'=')
}

/// Whether `check` holds for every byte. Fixed-size chunks without an early
/// exit inside vectorise; the exit between chunks keeps bad input cheap.
fn all_bytes(bytes: &[u8], check: impl Fn(u8) -> bool) -> bool {
    bytes
        .chunks(64)
        .all(|chunk| chunk.iter().fold(true, |ok, b| ok & check(*b)))
}

fn is_b64token(token: &[u8]) -> bool {
    all_bytes(token, b64token_byte)
}

/// Visible ASCII or tab, what `HeaderValue::to_str` accepts.
fn is_header_text(value: &[u8]) -> bool {
    all_bytes(value, |b| (b == b'\t') | (b.wrapping_sub(b' ') < 95))
}

/// The Bearer token of a request (RFC 6750 §2.1). A token in the query
/// string (§2.3) is refused: URLs end up in logs and Referer headers.
pub fn bearer_token<'a>(
    headers: &'a HeaderMap,
    query: Option<&str>,
) -> Result<&'a str, GuardError> {
    locate(headers, query)?.token()
}

/// The one `Authorization` header of a request, taken apart around its
/// token, before the token's bytes are checked: a token already known
/// well-formed (one in the verified cache) need not be scanned again.
pub(crate) enum Located<'a> {
    /// No space in the value: no token, or not header text.
    Whole(&'a [u8]),
    /// A scheme, then a token.
    Split {
        scheme: &'a [u8],
        /// Everything before the token: header text or not.
        before: &'a [u8],
        token: &'a [u8],
    },
}

/// Finds the `Authorization` header and the token in it; refuses a query
/// token and repeated headers.
pub(crate) fn locate<'a>(
    headers: &'a HeaderMap,
    query: Option<&str>,
) -> Result<Located<'a>, GuardError> {
    if query.is_some_and(|q| {
        q.split('&')
            .any(|p| p == "access_token" || p.starts_with("access_token="))
    }) {
        return Err(GuardError::InvalidRequest(
            "send the access token in the Authorization header, not the query string".into(),
        ));
    }
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return if headers.contains_key(AUTHORIZATION) {
            Err(GuardError::InvalidRequest(
                "more than one Authorization header".into(),
            ))
        } else {
            Err(GuardError::MissingToken)
        };
    };
    let bytes = value.as_bytes();
    let trimmed = bytes.trim_ascii();
    let Some(space) = trimmed.iter().position(|b| *b == b' ') else {
        return Ok(Located::Whole(bytes));
    };
    let (scheme, rest) = (&trimmed[..space], &trimmed[space + 1..]);
    let token = rest.trim_ascii();
    // The token ends where the trimmed value ends. What follows it is the
    // spaces and tabs `trim_ascii` removed (a header value holds no other
    // ASCII whitespace), header text already; only what precedes it is left.
    let before_len = bytes.trim_ascii_end().len().checked_sub(token.len());
    let Some(before) = before_len.and_then(|n| bytes.get(..n)) else {
        return Err(not_ascii());
    };
    Ok(Located::Split {
        scheme,
        before,
        token,
    })
}

fn not_ascii() -> GuardError {
    GuardError::InvalidRequest("the Authorization header is not ASCII".into())
}

impl<'a> Located<'a> {
    /// The token bytes of a Bearer header whose bytes around the token are
    /// fine, the token's own bytes unchecked. Where they form a b64token,
    /// [`Located::token`] returns exactly them.
    pub(crate) fn unchecked_bearer(&self) -> Option<&'a [u8]> {
        match *self {
            Located::Split {
                scheme,
                before,
                token,
            } if !token.is_empty()
                && scheme.eq_ignore_ascii_case(b"bearer")
                && is_header_text(before) =>
            {
                Some(token)
            }
            _ => None,
        }
    }

    /// The token, once every byte of the header is checked. One pass over
    /// the token (b64token bytes are header text too) and one over the few
    /// bytes before it, instead of several over the whole value.
    pub(crate) fn token(self) -> Result<&'a str, GuardError> {
        let (scheme, before, token) = match self {
            Located::Whole(bytes) => {
                return Err(if is_header_text(bytes) {
                    GuardError::MissingToken
                } else {
                    not_ascii()
                });
            }
            Located::Split {
                scheme,
                before,
                token,
            } => (scheme, before, token),
        };
        let well_formed = !token.is_empty() && is_b64token(token);
        if !is_header_text(before) || (!well_formed && !is_header_text(token)) {
            return Err(not_ascii());
        }
        if !scheme.eq_ignore_ascii_case(b"bearer") {
            // Another scheme (e.g. DPoP, Basic) is not a Bearer token.
            return Err(GuardError::MissingToken);
        }
        if !well_formed {
            return Err(GuardError::InvalidToken(InvalidToken::MalformedBearer));
        }
        std::str::from_utf8(token)
            .map_err(|_| GuardError::InvalidToken(InvalidToken::MalformedBearer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.append(AUTHORIZATION, v);
            }
        }
        h
    }

    #[test]
    fn bearer_extraction() {
        assert_eq!(
            bearer_token(&headers(&["Bearer abc.def"]), None),
            Ok("abc.def")
        );
        assert_eq!(bearer_token(&headers(&["bearer  abc "]), None), Ok("abc"));
        assert_eq!(
            bearer_token(&headers(&[]), None),
            Err(GuardError::MissingToken)
        );
        assert_eq!(
            bearer_token(&headers(&["Basic abc"]), None),
            Err(GuardError::MissingToken)
        );
        assert!(matches!(
            bearer_token(&headers(&["Bearer a", "Bearer b"]), None),
            Err(GuardError::InvalidRequest(_))
        ));
        assert!(matches!(
            bearer_token(&headers(&["Bearer a\"b"]), None),
            Err(GuardError::InvalidToken(_))
        ));
        assert!(matches!(
            bearer_token(&headers(&["Bearer a"]), Some("x=1&access_token=a")),
            Err(GuardError::InvalidRequest(_))
        ));
        assert_eq!(
            bearer_token(&headers(&["Bearer a"]), Some("my_access_token=1")),
            Ok("a")
        );
    }

    #[test]
    fn b64token_bytes_are_exactly_rfc_6750s() {
        for b in 0..=255u8 {
            let rfc = b.is_ascii_alphanumeric()
                || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=');
            assert_eq!(b64token_byte(b), rfc, "byte {b:#04x}");
            // Wherever a bad byte sits, across chunk boundaries, it is found.
            for at in [0, 63, 64, 100] {
                let mut token = vec![b'a'; 130];
                token[at] = b;
                assert_eq!(is_b64token(&token), rfc, "byte {b:#04x} at {at}");
            }
        }
    }

    #[test]
    fn header_text_is_exactly_what_to_str_accepts() {
        for b in 0..=255u8 {
            if let Ok(v) = HeaderValue::from_bytes(&[b'a', b, b'a']) {
                assert_eq!(
                    is_header_text(v.as_bytes()),
                    v.to_str().is_ok(),
                    "byte {b:#04x}"
                );
            }
        }
    }

    #[test]
    fn exact_errors_for_bad_headers() {
        let invalid_request = |why: &str| Err(GuardError::InvalidRequest(why.into()));
        let mut latin1 = HeaderMap::new();
        let obs_text = HeaderValue::from_bytes(b"Bearer caf\xe9");
        assert!(obs_text.is_ok(), "obs-text is a valid header byte");
        if let Ok(v) = obs_text {
            latin1.insert(AUTHORIZATION, v);
        }
        assert_eq!(
            bearer_token(&latin1, None),
            invalid_request("the Authorization header is not ASCII")
        );
        for bad in [
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer a,b",
            "Bearer \"a\"",
        ] {
            let want = if bad.trim() == "Bearer" {
                Err(GuardError::MissingToken)
            } else {
                Err(GuardError::InvalidToken(InvalidToken::MalformedBearer))
            };
            assert_eq!(bearer_token(&headers(&[bad]), None), want, "{bad:?}");
        }
        assert_eq!(
            bearer_token(&headers(&["Bearer\ta"]), None),
            Err(GuardError::MissingToken)
        );
        assert_eq!(bearer_token(&headers(&["Bearer \ta\t"]), None), Ok("a"));
    }

    /// The straightforward reading of a header, as it was written before the
    /// byte checks were made to vectorise.
    fn reference(value: &HeaderValue) -> Result<&str, GuardError> {
        let text = value.to_str().map_err(|_| {
            GuardError::InvalidRequest("the Authorization header is not ASCII".into())
        })?;
        let (scheme, token) = text
            .trim()
            .split_once(' ')
            .ok_or(GuardError::MissingToken)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(GuardError::MissingToken);
        }
        let token = token.trim();
        let b64token = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
        if token.is_empty() || !token.chars().all(b64token) {
            return Err(GuardError::InvalidToken(InvalidToken::MalformedBearer));
        }
        Ok(token)
    }

    /// The cache's shortcut is sound: the unchecked token of a header, when
    /// it is a b64token (as every cached token is), is exactly what the full
    /// reading returns; and every header the full reading accepts offers
    /// its token to the shortcut.
    fn shortcut_agrees(map: &HeaderMap) -> bool {
        let (Ok(located), Ok(again)) = (locate(map, None), locate(map, None)) else {
            return bearer_token(map, None).is_err();
        };
        let full = again.token();
        match located.unchecked_bearer() {
            Some(raw) if is_b64token(raw) => full.map(str::as_bytes) == Ok(raw),
            _ => full.is_err(),
        }
    }

    /// Every short header over an alphabet of edge bytes gets the same answer
    /// as from the straightforward reading.
    #[test]
    fn vectorised_checks_agree_with_the_straightforward_reading() {
        let alphabet: [&[u8]; 8] = [b"a", b".", b" ", b"\t", b"\"", b"=", b"\xc3\xa9", b"~"];
        let prefixes: [&[u8]; 5] = [b"Bearer ", b"bEaReR  ", b" Bearer", b"Basic ", b""];
        let mut checked_cases = 0;
        for prefix in prefixes {
            for len in 0..=4u32 {
                for n in 0..alphabet.len().pow(len) {
                    let mut value = prefix.to_vec();
                    let mut k = n;
                    for _ in 0..len {
                        value.extend_from_slice(alphabet[k % alphabet.len()]);
                        k /= alphabet.len();
                    }
                    let Ok(header) = HeaderValue::from_bytes(&value) else {
                        continue;
                    };
                    let careful = reference(&header);
                    let mut map = HeaderMap::new();
                    map.insert(AUTHORIZATION, header.clone());
                    let got = bearer_token(&map, None);
                    assert_eq!(got, careful, "{:?}", String::from_utf8_lossy(&value));
                    assert!(
                        shortcut_agrees(&map),
                        "{:?}",
                        String::from_utf8_lossy(&value)
                    );
                    checked_cases += 1;
                }
            }
        }
        assert!(checked_cases > 10_000);
    }

    proptest::proptest! {
        /// Long values, with whitespace and odd bytes anywhere, get the same
        /// answer as from the straightforward reading.
        #[test]
        fn long_values_agree_with_the_straightforward_reading(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                &b"Bearer"[..], b"bearer", b"Basic", b" ", b"  ", b"\t", b"abc", b"A.b-c_d",
                b"~+/=", b"\"", b",", b"\xc3\xa9", b"\x7f", b"\xff",
            ]), 0..40)
        ) {
            let value = parts.concat();
            if let Ok(header) = HeaderValue::from_bytes(&value) {
                let mut map = HeaderMap::new();
                map.insert(AUTHORIZATION, header.clone());
                proptest::prop_assert_eq!(bearer_token(&map, None), reference(&header));
                proptest::prop_assert!(shortcut_agrees(&map));
            }
        }
    }
}
