//! Route matching by host and path prefix.

use http::Uri;

use crate::config::RouteConfig;

/// A configured route, ready to match.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub(crate) host: Option<String>,
    pub(crate) prefix: String,
    pub(crate) upstream: Uri,
    pub(crate) scopes: Vec<String>,
    pub(crate) audience: Option<String>,
}

impl Route {
    pub(crate) fn from_config(c: &RouteConfig, default_audience: Option<&String>) -> Option<Self> {
        Some(Self {
            host: c.host.as_ref().map(|h| h.to_ascii_lowercase()),
            prefix: c.path_prefix.trim_end_matches('/').to_owned(),
            upstream: c.upstream.parse().ok()?,
            scopes: c.scopes.clone(),
            audience: c.audience.clone().or_else(|| default_audience.cloned()),
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
            scopes: vec![],
            audience: None,
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
