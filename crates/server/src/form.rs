//! Strict `application/x-www-form-urlencoded` request bodies (RFC 6749 §3.2):
//! bounded size, UTF-8 only, no repeated parameters, empty values = absent.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use bytes::BytesMut;
use http::{StatusCode, header};
use http_body_util::BodyExt;
use percent_encoding::percent_decode;

use crate::OAuthError;

/// Largest form body accepted; token requests are a few hundred bytes.
pub const MAX_FORM_BYTES: usize = 16 * 1024;
/// Of a body over [`MAX_FORM_BYTES`], how much more is read and dropped
/// before the 413 is sent, so that a client that sends its whole body
/// before reading (Python `requests`) gets the answer rather than a reset
/// connection, and HTTP/2 ends the stream cleanly (as nginx lingers).
pub const LINGER_BYTES: usize = 16 * 1024 * 1024;
/// How long that reading may take.
pub const LINGER_TIME: Duration = Duration::from_secs(5);

/// The parameters of a form body.
#[derive(Debug, Default)]
pub struct Form(HashMap<String, String>);

impl Form {
    /// A parameter's value; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Every parameter with a value, in no particular order.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Parses a body. Separate from the extractor so it can be fuzzed and tested.
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let mut params = HashMap::with_capacity(4);
        for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (raw_name, raw_value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            let name = decode(raw_name)?;
            let value = decode(raw_value)?;
            if value.is_empty() {
                continue;
            }
            match params.entry(name) {
                Entry::Occupied(seen) => {
                    return Err(OAuthError::invalid_request(format!(
                        "parameter '{}' is repeated; send each parameter once",
                        printable(seen.key())
                    )));
                }
                Entry::Vacant(slot) => {
                    slot.insert(value);
                }
            }
        }
        Ok(Self(params))
    }
}

/// Decodes one name or value (`+` is a space, then `%XX`) into one allocation.
fn decode(raw: &[u8]) -> Result<String, OAuthError> {
    let not_utf8 = |_| OAuthError::invalid_request("the form body is not valid UTF-8");
    if !raw.iter().any(|b| matches!(b, b'+' | b'%')) {
        // Most values (grant types, client ids, scopes) have nothing to decode.
        return String::from_utf8(raw.to_vec()).map_err(not_utf8);
    }
    let mut bytes = Vec::with_capacity(raw.len());
    for (i, part) in raw.split(|b| *b == b'+').enumerate() {
        if i > 0 {
            bytes.push(b' ');
        }
        bytes.extend(percent_decode(part));
    }
    String::from_utf8(bytes).map_err(not_utf8)
}

/// A parameter name safe to echo back in an error description.
fn printable(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(64)
        .collect()
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = OAuthError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        let is_form = essence.eq_ignore_ascii_case("application/x-www-form-urlencoded");
        // Declared too large: answered at once, nothing read. A client that
        // waits for `100 Continue` sends nothing more; one past the linger
        // bound would be cut mid-upload anyway.
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let expects_continue = req.headers().contains_key(header::EXPECT);
        if declared.is_some_and(|n| {
            n > MAX_FORM_BYTES + LINGER_BYTES || (n > MAX_FORM_BYTES && expects_continue)
        }) {
            return Err(too_large());
        }
        let body = read_bounded(req.into_body()).await?;
        if !is_form {
            return Err(OAuthError::invalid_request(
                "Content-Type must be application/x-www-form-urlencoded",
            ));
        }
        Self::parse(&body)
    }
}

/// The body, up to [`MAX_FORM_BYTES`]. Past that, the rest is read and
/// dropped (up to [`LINGER_BYTES`] more, for [`LINGER_TIME`]) before the
/// 413 goes out: an answer sent mid-upload is lost to many clients.
async fn read_bounded(mut body: Body) -> Result<BytesMut, OAuthError> {
    let unreadable = || OAuthError::invalid_request("the request body could not be read");
    let mut read = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| unreadable())?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if read.len() + data.len() > MAX_FORM_BYTES {
            linger(body, read.len() + data.len()).await;
            return Err(too_large());
        }
        read.extend_from_slice(&data);
    }
    Ok(read)
}

/// The 413 of a form over [`MAX_FORM_BYTES`].
fn too_large() -> OAuthError {
    let mut e =
        OAuthError::invalid_request(format!("the request body exceeds {MAX_FORM_BYTES} bytes"));
    e.status = StatusCode::PAYLOAD_TOO_LARGE;
    e
}

/// Reads and drops the rest of `body`, within the linger bounds.
async fn linger(mut body: Body, mut seen: usize) {
    let limit = MAX_FORM_BYTES + LINGER_BYTES;
    let drain = async {
        while seen <= limit {
            match body.frame().await {
                Some(Ok(frame)) => seen += frame.data_ref().map_or(0, |d| d.len()),
                // The end, or the client gave up: nothing more to wait for.
                Some(Err(_)) | None => return,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let f = Form::parse(b"grant_type=client_credentials&scope=a+b%20c&empty=&x")
            .unwrap_or_default();
        assert_eq!(f.get("grant_type"), Some("client_credentials"));
        assert_eq!(f.get("scope"), Some("a b c"));
        assert_eq!(f.get("empty"), None);
        assert_eq!(f.get("x"), None);
        assert!(Form::parse(b"a=1&a=2").is_err());
        assert!(Form::parse(b"a=%ff").is_err());
        assert!(Form::parse(b"a=\xff").is_err());
        // An empty duplicate counts as absent (RFC 6749 §3.1).
        assert!(Form::parse(b"a=1&a=").is_ok());
    }

    /// The plain two-step decoding the one-allocation `decode` replaced.
    fn reference_decode(raw: &[u8]) -> Option<String> {
        let spaced: Vec<u8> = raw
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        String::from_utf8(percent_decode(&spaced).collect()).ok()
    }

    #[test]
    fn decode_handles_plus_and_escapes() {
        for (raw, want) in [
            (&b"a+b"[..], Some("a b")),
            (b"a%2Bb", Some("a+b")),
            (b"+%2B+", Some(" + ")),
            (b"%", Some("%")),
            (b"%+", Some("% ")),
            (b"%2+B", Some("%2 B")),
            (b"%e2%82%ac", Some("\u{20ac}")),
            (b"%e2%82", None),
            (b"a\xffb", None),
            (b"plain", Some("plain")),
            (b"", Some("")),
        ] {
            assert_eq!(decode(raw).ok().as_deref(), want, "{raw:?}");
            assert_eq!(reference_decode(raw).as_deref(), want, "{raw:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn decode_agrees_with_the_reference(raw in proptest::collection::vec(
            proptest::sample::select(&b"ab+%2B0fFe\x82\xffz "[..]), 0..24)) {
            proptest::prop_assert_eq!(decode(&raw).ok(), reference_decode(&raw));
        }
    }
}
