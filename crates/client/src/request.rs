//! Requests to resource servers made with a bound token, and recognising a
//! resource's "this token is invalid" answer.

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode, Url};

use crate::{CertboundClient, ClientError};

/// A request to a resource server; the body is kept so it can be replayed
/// once if the resource rejects the token.
#[derive(Debug, Clone)]
pub struct ResourceRequest {
    method: Method,
    url: String,
    headers: HeaderMap,
    body: Bytes,
}

impl ResourceRequest {
    /// A request with no headers and an empty body.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    /// Adds a header (an `Authorization` header is replaced by the token).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The headers set so far.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body.
    pub fn body_bytes(&self) -> &Bytes {
        &self.body
    }

    /// The parsed URL; only `https` is accepted, since a bound token is
    /// worthless (and exposed) without TLS.
    pub(crate) fn target(&self) -> Result<Url, ClientError> {
        let invalid = |reason: String| ClientError::InvalidRequest {
            url: self.url.clone(),
            reason,
        };
        let url = Url::parse(&self.url)
            .map_err(|e| invalid(format!("not an absolute URL ({e}); use https://host/path")))?;
        if url.scheme() != "https" {
            return Err(invalid(
                "only https:// URLs are allowed: the token is bound to the TLS client certificate"
                    .into(),
            ));
        }
        Ok(url)
    }
}

/// A [`ResourceRequest`] being built for one [`CertboundClient`].
#[derive(Debug)]
pub struct BoundRequest<'a> {
    client: &'a CertboundClient,
    request: ResourceRequest,
}

impl<'a> BoundRequest<'a> {
    /// Starts a request sent by `client`.
    pub(crate) fn new(client: &'a CertboundClient, request: ResourceRequest) -> Self {
        Self { client, request }
    }

    /// Adds a header.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.request = self.request.header(name, value);
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.request = self.request.body(body);
        self
    }

    /// Sends it with [`CertboundClient::send`].
    pub async fn send(self) -> Result<reqwest::Response, ClientError> {
        self.client.send(self.request).await
    }
}

/// RFC 6750 §3.1: a 401 whose Bearer challenge says `error="invalid_token"`.
pub(crate) fn rejects_token(status: StatusCode, headers: &HeaderMap) -> bool {
    status == StatusCode::UNAUTHORIZED
        && headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(is_invalid_token_challenge)
}

/// Whether a `WWW-Authenticate` value holds a Bearer challenge with `error="invalid_token"`.
fn is_invalid_token_challenge(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find("bearer") {
        let start = from + pos;
        let end = start + "bearer".len();
        let scheme_start = start == 0 || lower[..start].ends_with([' ', ',']);
        let scheme_end = lower[end..].is_empty() || lower[end..].starts_with(' ');
        if scheme_start && scheme_end {
            return lower[end..].split(',').any(|param| {
                param.split_once('=').is_some_and(|(k, v)| {
                    k.trim() == "error" && v.trim().trim_matches('"') == "invalid_token"
                })
            });
        }
        from = end;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_invalid_token_challenges() {
        for yes in [
            r#"Bearer error="invalid_token""#,
            r#"Bearer realm="api", error="invalid_token", error_description="expired""#,
            r#"bearer error=invalid_token"#,
            r#"Basic realm="x", Bearer error="invalid_token""#,
        ] {
            assert!(is_invalid_token_challenge(yes), "{yes}");
        }
        for no in [
            r#"Bearer"#,
            r#"Bearer error="insufficient_scope""#,
            r#"Bearer error_description="invalid_token""#,
            r#"Basic realm="bearer error=invalid_token""#,
            r#"DPoP error="invalid_token""#,
        ] {
            assert!(!is_invalid_token_challenge(no), "{no}");
        }
    }

    #[test]
    fn only_https_targets() {
        let ok = ResourceRequest::new(Method::GET, "https://api.example/x");
        assert!(ok.target().is_ok());
        for bad in ["http://api.example/x", "/relative", "not a url"] {
            assert!(matches!(
                ResourceRequest::new(Method::GET, bad).target(),
                Err(ClientError::InvalidRequest { .. })
            ));
        }
    }
}
