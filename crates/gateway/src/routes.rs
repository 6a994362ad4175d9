//! Route matching by host and path prefix.

use std::borrow::Cow;

use http::Uri;

use crate::config::RouteConfig;

/// A configured route, ready to match.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub(crate) host: Option<String>,
    pub(crate) prefix: String,
    pub(crate) upstream: Uri,
    /// Index of the upstream's origin in the gateway's connection pools.
    pub(crate) origin: usize,
    pub(crate) scopes: Vec<String>,
    /// The `aud` a token must carry: the route's, else the gateway's default.
    pub(crate) audience: String,
}

impl Route {
    pub(crate) fn from_config(c: &RouteConfig, default_audience: &str) -> Option<Self> {
        Some(Self {
            host: c.host.as_ref().map(|h| h.to_ascii_lowercase()),
            prefix: c.path_prefix.trim_end_matches('/').to_owned(),
            upstream: c.upstream.parse().ok()?,
            origin: 0,
            scopes: c.scopes.clone(),
            audience: c
                .audience
                .clone()
                .unwrap_or_else(|| default_audience.to_owned()),
        })
    }

    fn matches(&self, host: Option<&str>, path: &str) -> bool {
        let host_ok = match (&self.host, host) {
            (None, _) => true,
            (Some(want), Some(got)) => {
                // Compare without the port.
                let got = got
                    .rsplit_once(':')
                    .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
                    .map_or(got, |(h, _)| h);
                want.eq_ignore_ascii_case(got)
            }
            (Some(_), None) => false,
        };
        // Segment-wise prefix: "/api" matches "/api" and "/api/x", not "/apix".
        let path_ok = self.prefix.is_empty()
            || path == self.prefix
            || path
                .strip_prefix(&self.prefix)
                .is_some_and(|rest| rest.starts_with('/'));
        host_ok && path_ok
    }
}

/// The canonical form of a request path, or `None` when it is ambiguous.
///
/// Routing must decide on the path the upstream will act on: `%61dmin`,
/// `/api/../admin` or `//admin` must not slip past the `/admin` policy. So
/// percent-encoded unreserved characters are decoded, hex digits upper-cased,
/// and anything an upstream could interpret differently (dot segments, empty
/// segments, encoded `/` or `\`, a raw `\`) is refused outright.
pub(crate) fn normalize_path(raw: &str) -> Option<Cow<'_, str>> {
    if !raw.starts_with('/') || raw.contains('\\') {
        return None;
    }
    // Without escapes the path is already in canonical form.
    let path = if raw.contains('%') {
        Cow::Owned(decode_unreserved(raw)?)
    } else {
        Cow::Borrowed(raw)
    };
    let mut segments = path.split('/').skip(1).peekable();
    while let Some(seg) = segments.next() {
        let last = segments.peek().is_none();
        if seg == "." || seg == ".." || (seg.is_empty() && !last) {
            return None;
        }
    }
    Some(path)
}

/// Decodes percent-encoded unreserved characters and upper-cases the hex of
/// the rest; `None` for a malformed escape or an encoded `/` or `\`.
fn decode_unreserved(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = raw.get(i + 1..i + 3)?;
            let value = u8::from_str_radix(hex, 16).ok()?;
            if value.is_ascii_alphanumeric() || matches!(value, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(value));
            } else if matches!(value, b'/' | b'\\') {
                return None;
            } else {
                out.push('%');
                out.push_str(&hex.to_ascii_uppercase());
            }
            i += 3;
        } else {
            out.push(char::from(b));
            i += 1;
        }
    }
    Some(out)
}

/// First route matching `host` and `path`.
pub(crate) fn find<'a>(routes: &'a [Route], host: Option<&str>, path: &str) -> Option<&'a Route> {
    routes.iter().find(|r| r.matches(host, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(host: Option<&str>, prefix: &str) -> Route {
        Route {
            host: host.map(str::to_owned),
            prefix: prefix.trim_end_matches('/').to_owned(),
            upstream: Uri::from_static("http://127.0.0.1:1"),
            origin: 0,
            scopes: vec![],
            audience: "https://gw".into(),
        }
    }

    #[test]
    fn normalizes_or_refuses_ambiguous_paths() {
        assert_eq!(normalize_path("/%61dmin/x").as_deref(), Some("/admin/x"));
        assert_eq!(normalize_path("/a%2dz/%7e").as_deref(), Some("/a-z/~"));
        assert_eq!(normalize_path("/a%3fb").as_deref(), Some("/a%3Fb"));
        assert_eq!(normalize_path("/api/").as_deref(), Some("/api/"));
        assert_eq!(normalize_path("/").as_deref(), Some("/"));
        for bad in [
            "/api/../admin",
            "/api/%2e%2e/admin",
            "//admin",
            "/api//x",
            "/./x",
            "/a%2fb",
            "/a%5Cb",
            "/a\\b",
            "/%zz",
            "/%4",
            "x",
        ] {
            assert_eq!(normalize_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn matching() {
        let routes = [
            route(Some("api.example"), "/v1"),
            route(None, "/api/"),
            route(None, "/"),
        ];
        assert_eq!(
            find(&routes, Some("API.example:443"), "/v1/x").map(|r| r.prefix.as_str()),
            Some("/v1")
        );
        assert_eq!(
            find(&routes, Some("other"), "/v1/x").map(|r| r.prefix.as_str()),
            Some("")
        );
        assert_eq!(
            find(&routes, None, "/api").map(|r| r.prefix.as_str()),
            Some("/api")
        );
        assert_eq!(
            find(&routes, None, "/apix").map(|r| r.prefix.as_str()),
            Some("")
        );
        assert!(find(&routes[..2], None, "/apix").is_none());
    }
}
