//! Strict `application/x-www-form-urlencoded` request bodies (RFC 6749 §3.2):
//! bounded size, UTF-8 only, no repeated parameters, empty values = absent.

use std::collections::HashMap;

use axum::extract::{FromRequest, Request};
use http::{StatusCode, header};
use percent_encoding::percent_decode;

use crate::OAuthError;

/// Largest form body accepted; token requests are a few hundred bytes.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// The parameters of a form body.
#[derive(Debug, Default)]
pub struct Form(HashMap<String, String>);

impl Form {
    /// A parameter's value; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Parses a body. Separate from the extractor so it can be fuzzed and tested.
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let mut params = HashMap::new();
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
            if params.insert(name.clone(), value).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "parameter '{}' is repeated; send each parameter once",
                    printable(&name)
                )));
            }
        }
        Ok(Self(params))
    }
}

fn decode(raw: &[u8]) -> Result<String, OAuthError> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    let bytes: Vec<u8> = percent_decode(&plus_as_space).collect();
    String::from_utf8(bytes)
        .map_err(|_| OAuthError::invalid_request("the form body is not valid UTF-8"))
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
        // Read the (bounded) body before answering, even to refuse it: an
        // HTTP/2 response sent mid-upload resets the stream, which some
        // clients report as a transport error instead of showing our error.
        let body = axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES)
            .await
            .map_err(|_| {
                let mut e = OAuthError::invalid_request(format!(
                    "the request body exceeds {MAX_FORM_BYTES} bytes"
                ));
                e.status = StatusCode::PAYLOAD_TOO_LARGE;
                e
            })?;
        if !is_form {
            return Err(OAuthError::invalid_request(
                "Content-Type must be application/x-www-form-urlencoded",
            ));
        }
        Self::parse(&body)
    }
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
}
