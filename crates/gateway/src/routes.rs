//! Route matching by host and path prefix.

use std::borrow::Cow;

use http::Uri;

use crate::config::RouteConfig;

/// A configured route, ready to match.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub(crate) host: Option<String>,
    pub(crate) prefix: String,
    /// `prefix` as a case-insensitive, normalising upstream reads it, when
    /// that differs from `prefix` (computed once, not per request).
    pub(crate) folded_prefix: Option<String>,
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
            folded_prefix: folded_prefix(c.path_prefix.trim_end_matches('/')),
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
        self.matches_host(host) && prefix_matches(&self.prefix, path)
    }

    fn matches_host(&self, host: Option<&str>) -> bool {
        match (&self.host, host) {
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
        }
    }
}

/// Why a request path is refused: one row each in the refusal table of
/// `docs/gateway.md`, each meaning an upstream could act on another path
/// than the one the gateway judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathRefusal {
    /// Not an absolute path (`x`, `*`, an authority).
    NotAbsolute,
    /// `\` raw or as `%5C`: some servers read it as `/`.
    Backslash,
    /// `%2F`: some upstreams decode it into a separator.
    EncodedSlash,
    /// `%` not followed by two hex digits.
    MalformedEscape,
    /// A `.` or `..` segment (also as `%2e`).
    DotSegment,
    /// A segment that is `.` or `..` before its first `;` (or `%3B`):
    /// Tomcat and Spring drop the parameters and read `..`.
    DotSegmentWithParameters,
    /// An empty segment (`//`), or one that is empty before its parameters.
    EmptySegment,
    /// An encoded `%` followed by two hex digits (`%252e`): decoded twice it
    /// is another character.
    DoubleEncoded,
    /// The bytes after percent-decoding are not UTF-8 (overlong `%c0%ae`).
    InvalidUtf8,
    /// NUL, another control character, or DEL after decoding.
    ControlCharacter,
    /// A character that Unicode normalisation or a lenient decoder turns
    /// into `.`, `/` or `\` (full-width dot, one dot leader…).
    LookAlike,
    /// Read case-insensitively (Express, IIS) or after Unicode
    /// normalisation (`ａdmin`), the path would take another route.
    RouteDependsOnCase,
}

impl PathRefusal {
    /// The `error_description` a caller gets.
    pub(crate) fn description(self) -> &'static str {
        match self {
            Self::NotAbsolute => "the path must start with /",
            Self::Backslash => "a backslash (raw or %5C) in the path is refused",
            Self::EncodedSlash => "an encoded slash (%2F) in the path is refused",
            Self::MalformedEscape => "a % in the path must be followed by two hex digits",
            Self::DotSegment => "dot segments (. and ..) in the path are refused",
            Self::DotSegmentWithParameters => {
                "dot segments with path parameters (..;) in the path are refused"
            }
            Self::EmptySegment => "empty path segments (//) are refused",
            Self::DoubleEncoded => {
                "a double-encoded escape (%25 followed by hex) in the path is refused"
            }
            Self::InvalidUtf8 => "the path is not UTF-8 after percent-decoding",
            Self::ControlCharacter => "control characters (%00-%1F, %7F) in the path are refused",
            Self::RouteDependsOnCase => {
                "the path takes another route when its letters are read case-insensitively or normalised (NFKC)"
            }
            Self::LookAlike => {
                "characters that read as a dot or slash (full-width dot, one dot leader…) in the path are refused"
            }
        }
    }
}

/// Characters refused as look-alikes of `.`, `/` and `\`: every character
/// whose NFKC form contains one of them (Python's `unicodedata`, Unicode
/// 15), plus the IDNA full stops U+3002, U+FF61 and the slash-like
/// operators U+2044, U+2215, U+2216, U+29F5, U+29F8, U+29F9.
const LOOK_ALIKES: [(char, char); 20] = [
    ('\u{2024}', '\u{2026}'),
    ('\u{2044}', '\u{2044}'),
    ('\u{2100}', '\u{2101}'),
    ('\u{2105}', '\u{2106}'),
    ('\u{2215}', '\u{2216}'),
    ('\u{2488}', '\u{249B}'),
    ('\u{29F5}', '\u{29F5}'),
    ('\u{29F8}', '\u{29F9}'),
    ('\u{3002}', '\u{3002}'),
    ('\u{33C2}', '\u{33C2}'),
    ('\u{33C7}', '\u{33C7}'),
    ('\u{33D8}', '\u{33D8}'),
    ('\u{FE19}', '\u{FE19}'),
    ('\u{FE30}', '\u{FE30}'),
    ('\u{FE52}', '\u{FE52}'),
    ('\u{FE68}', '\u{FE68}'),
    ('\u{FF0E}', '\u{FF0F}'),
    ('\u{FF3C}', '\u{FF3C}'),
    ('\u{FF61}', '\u{FF61}'),
    ('\u{1F100}', '\u{1F100}'),
];

fn is_look_alike(c: char) -> bool {
    LOOK_ALIKES.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c))
}

/// The canonical form of a request path, or why it is refused.
///
/// Routing must decide on the path the upstream will act on: `%61dmin`,
/// `/api/../admin`, `/api/..;/admin` (Tomcat, Spring) or `//admin` must not
/// slip past the `/admin` policy. So percent-encoded unreserved characters
/// are decoded, hex digits upper-cased, and anything an upstream could
/// interpret differently ([`PathRefusal`]) is refused outright. A plain
/// ASCII path without `%` is checked in place, without allocating.
pub(crate) fn normalize_path(raw: &str) -> Result<Cow<'_, str>, PathRefusal> {
    if !raw.starts_with('/') {
        return Err(PathRefusal::NotAbsolute);
    }
    // One pass decides whether the path needs decoding or refusing.
    let plain = raw
        .bytes()
        .all(|b| b != b'%' && b != b'\\' && (0x20..0x7f).contains(&b));
    let path = if plain {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(decode(raw)?)
    };
    check_segments(&path, !plain)?;
    Ok(path)
}

/// Refuses dot segments (with or without parameters) and empty segments;
/// a trailing `/` is allowed.
fn check_segments(path: &str, escaped: bool) -> Result<(), PathRefusal> {
    let mut segments = path.split('/').skip(1).peekable();
    while let Some(seg) = segments.next() {
        let last = segments.peek().is_none();
        // Path parameters start at `;`; `%3B` too, for upstreams that decode first.
        let encoded = if escaped { seg.find("%3B") } else { None };
        let params = match (seg.find(';'), encoded) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let head = params.map_or(seg, |i| &seg[..i]);
        match head {
            "." | ".." if params.is_some() => return Err(PathRefusal::DotSegmentWithParameters),
            "." | ".." => return Err(PathRefusal::DotSegment),
            "" if params.is_some() || !last => return Err(PathRefusal::EmptySegment),
            _ => {}
        }
    }
    Ok(())
}

/// Decodes percent-encoded unreserved characters and upper-cases the hex of
/// the rest, after checking what the fully decoded path would say.
fn decode(raw: &str) -> Result<String, PathRefusal> {
    let bytes = raw.as_bytes();
    // `out` keeps the escapes of reserved characters; `decoded` is every
    // byte decoded, as the most lenient upstream would see it.
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let mut decoded: Vec<u8> = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' {
            return Err(PathRefusal::Backslash);
        }
        if b != b'%' {
            out.push(b);
            decoded.push(b);
            i += 1;
            continue;
        }
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .ok_or(PathRefusal::MalformedEscape)?;
        let value = hex_value(hex[0]) << 4 | hex_value(hex[1]);
        match value {
            b'/' => return Err(PathRefusal::EncodedSlash),
            b'\\' => return Err(PathRefusal::Backslash),
            v if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') => out.push(v),
            _ => {
                out.push(b'%');
                out.extend(hex.iter().map(u8::to_ascii_uppercase));
            }
        }
        decoded.push(value);
        i += 3;
    }
    let text = std::str::from_utf8(&decoded).map_err(|_| PathRefusal::InvalidUtf8)?;
    for c in text.chars() {
        if c.is_control() {
            return Err(PathRefusal::ControlCharacter);
        }
        if is_look_alike(c) {
            return Err(PathRefusal::LookAlike);
        }
    }
    // `%25` then hex: a second decoding makes it another character.
    if out
        .windows(5)
        .any(|w| w.starts_with(b"%25") && w[3].is_ascii_hexdigit() && w[4].is_ascii_hexdigit())
    {
        return Err(PathRefusal::DoubleEncoded);
    }
    // Only ASCII was added to what was UTF-8 (`raw`), so this holds.
    String::from_utf8(out).map_err(|_| PathRefusal::InvalidUtf8)
}

fn hex_value(h: u8) -> u8 {
    match h {
        b'0'..=b'9' => h - b'0',
        b'a'..=b'f' => h - b'a' + 10,
        b'A'..=b'F' => h - b'A' + 10,
        // Callers pass hex digits only.
        _ => 0,
    }
}

/// Segment-wise prefix: `/api` matches `/api` and `/api/x`, not `/apix`.
/// A segment is judged by what precedes its `;` parameters, as Tomcat and
/// Spring read it: `/api;x/y` is under `/api`.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix.is_empty() {
        return true;
    }
    if !path.contains(';') {
        return path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'));
    }
    let mut segments = path.split('/');
    prefix.split('/').all(|want| {
        segments
            .next()
            .is_some_and(|seg| seg.split(';').next() == Some(want))
    })
}

/// First route matching `host` and `path`. Refused when an upstream that
/// ignores case (Express's default, IIS) or normalises Unicode (`ａdmin`)
/// would read the path as one another route covers.
pub(crate) fn find<'a>(
    routes: &'a [Route],
    host: Option<&str>,
    path: &str,
) -> Result<Option<&'a Route>, PathRefusal> {
    let found = routes.iter().find(|r| r.matches(host, path));
    // Lower-case ASCII without escapes reads the same everywhere; so do the
    // routes' prefixes unless one has capitals or escapes.
    let plain_path = !path.bytes().any(|b| b.is_ascii_uppercase() || b == b'%');
    let folded = if plain_path {
        if routes.iter().all(|r| r.folded_prefix.is_none()) {
            return Ok(found);
        }
        Cow::Borrowed(path)
    } else {
        Cow::Owned(fold_path(path))
    };
    let other = routes.iter().find(|r| {
        let prefix = r.folded_prefix.as_deref().unwrap_or(&r.prefix);
        r.matches_host(host) && prefix_matches(prefix, &folded)
    });
    match (found, other) {
        (Some(a), Some(b)) if std::ptr::eq(a, b) => Ok(found),
        (None, None) => Ok(None),
        _ => Err(PathRefusal::RouteDependsOnCase),
    }
}

/// A route prefix's folded form ([`fold_path`]), if it is not the prefix itself.
fn folded_prefix(prefix: &str) -> Option<String> {
    Some(fold_path(prefix)).filter(|f| f != prefix)
}

/// A path as a lenient upstream reads it: percent-decoded, NFKC-normalised,
/// lower case.
fn fold_path(path: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    decoded.nfkc().collect::<String>().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(host: Option<&str>, prefix: &str) -> Route {
        Route {
            host: host.map(str::to_owned),
            prefix: prefix.trim_end_matches('/').to_owned(),
            folded_prefix: folded_prefix(prefix.trim_end_matches('/')),
            upstream: Uri::from_static("http://127.0.0.1:1"),
            origin: 0,
            scopes: vec![],
            audience: "https://gw".into(),
        }
    }

    #[test]
    fn normalizes_what_is_unambiguous() {
        for (raw, want) in [
            ("/%61dmin/x", "/admin/x"),
            ("/a%2dz/%7e", "/a-z/~"),
            ("/a%3fb", "/a%3Fb"),
            ("/caf%c3%a9", "/caf%C3%A9"),
            ("/100%25", "/100%25"),
            ("/100%25x", "/100%25x"),
            ("/api/", "/api/"),
            ("/", "/"),
            ("/api/x;jsessionid=1", "/api/x;jsessionid=1"),
            ("/.well-known/a..b/...x", "/.well-known/a..b/...x"),
        ] {
            assert_eq!(normalize_path(raw).as_deref(), Ok(want), "{raw}");
        }
        // The common path is checked in place.
        assert!(matches!(
            normalize_path("/api/orders/42?x"),
            Ok(Cow::Borrowed("/api/orders/42?x"))
        ));
    }

    /// Every example of one row of the refusal table gets that row's refusal.
    fn refused(refusal: PathRefusal, examples: &[&str]) {
        for raw in examples {
            assert_eq!(normalize_path(raw), Err(refusal), "{raw}");
        }
    }

    #[test]
    fn refuses_relative_paths() {
        refused(PathRefusal::NotAbsolute, &["x", "*", "api/x", ""]);
    }

    #[test]
    fn refuses_backslashes() {
        refused(
            PathRefusal::Backslash,
            &["/a\\b", "/a%5Cb", "/a%5cb", "/%61\\b"],
        );
    }

    #[test]
    fn refuses_encoded_slashes() {
        refused(PathRefusal::EncodedSlash, &["/a%2fb", "/api%2F..%2Fadmin"]);
    }

    #[test]
    fn refuses_malformed_escapes() {
        refused(
            PathRefusal::MalformedEscape,
            &["/%zz", "/%4", "/%", "/%+1", "/%-1"],
        );
    }

    #[test]
    fn refuses_dot_segments() {
        refused(
            PathRefusal::DotSegment,
            &[
                "/api/../admin",
                "/api/%2e%2e/admin",
                "/./x",
                "/api/.",
                "/api/%2E",
            ],
        );
    }

    #[test]
    fn refuses_dot_segments_with_parameters() {
        refused(
            PathRefusal::DotSegmentWithParameters,
            &[
                "/api/..;/admin",
                "/api/%2e%2e;/admin",
                "/api/.%2e;x=1/admin",
                "/api/..;jsessionid=x/admin",
                "/api/.;x/admin",
                "/api/..%3b/admin",
                "/api/..%3Bx/admin",
            ],
        );
    }

    #[test]
    fn refuses_empty_segments() {
        refused(
            PathRefusal::EmptySegment,
            &["//admin", "/api//x", "/;x/admin", "/api/;x"],
        );
    }

    #[test]
    fn refuses_double_encoding() {
        refused(
            PathRefusal::DoubleEncoded,
            &[
                "/api/%252e%252e/admin",
                "/%25%32%65",
                "/a%252F",
                "/a%255c",
                "/%25c0%25ae",
            ],
        );
    }

    #[test]
    fn refuses_invalid_utf8() {
        refused(
            PathRefusal::InvalidUtf8,
            &["/api/%c0%ae%c0%ae/admin", "/%ff", "/%e2%80", "/%ed%a0%80"],
        );
    }

    #[test]
    fn refuses_control_characters() {
        refused(
            PathRefusal::ControlCharacter,
            &[
                "/admin%00.json",
                "/a%0a",
                "/a%0D",
                "/a%7f",
                "/a%c2%85",
                "/a\u{7}",
            ],
        );
    }

    #[test]
    fn refuses_dot_and_slash_look_alikes() {
        refused(
            PathRefusal::LookAlike,
            &[
                "/api/%ef%bc%8e%ef%bc%8e/admin", // U+FF0E FULLWIDTH FULL STOP
                "/api/%e2%80%a4%e2%80%a4/admin", // U+2024 ONE DOT LEADER
                "/api/%e2%80%a5/admin",          // U+2025 TWO DOT LEADER
                "/api/%ef%b9%92/admin",          // U+FE52 SMALL FULL STOP
                "/api/%e3%80%82/admin",          // U+3002 IDEOGRAPHIC FULL STOP
                "/api/%ef%bd%a1/admin",          // U+FF61 HALFWIDTH IDEOGRAPHIC FULL STOP
                "/api%ef%bc%8fadmin",            // U+FF0F FULLWIDTH SOLIDUS
                "/api%e2%88%95admin",            // U+2215 DIVISION SLASH
                "/api%ef%bc%bcadmin",            // U+FF3C FULLWIDTH REVERSE SOLIDUS
                "/api/\u{FF0E}\u{FF0E}/admin",   // the same, unencoded
            ],
        );
        for (lo, hi) in LOOK_ALIKES {
            assert!(lo <= hi && is_look_alike(lo) && is_look_alike(hi));
        }
        assert!(!is_look_alike('.') && !is_look_alike('\u{e9}'));
    }

    #[test]
    fn matching() {
        let routes = [
            route(Some("api.example"), "/v1"),
            route(None, "/api/"),
            route(None, "/"),
        ];
        assert_eq!(
            find_ok(&routes, Some("API.example:443"), "/v1/x").map(|r| r.prefix.as_str()),
            Some("/v1")
        );
        assert_eq!(
            find_ok(&routes, Some("other"), "/v1/x").map(|r| r.prefix.as_str()),
            Some("")
        );
        assert_eq!(
            find_ok(&routes, None, "/api").map(|r| r.prefix.as_str()),
            Some("/api")
        );
        assert_eq!(
            find_ok(&routes, None, "/apix").map(|r| r.prefix.as_str()),
            Some("")
        );
        assert!(find_ok(&routes[..2], None, "/apix").is_none());
        // A segment is judged without its parameters, as Tomcat reads it.
        for (path, want) in [
            ("/api;x/y", "/api"),
            ("/api;x", "/api"),
            ("/apix;x/y", ""),
            ("/x;api", ""),
        ] {
            assert_eq!(
                find_ok(&routes, None, path).map(|r| r.prefix.as_str()),
                Some(want),
                "{path}"
            );
        }
        let nested = [route(None, "/api/v1"), route(None, "/")];
        assert_eq!(
            find_ok(&nested, None, "/api;a=1/v1;b=2/x").map(|r| r.prefix.as_str()),
            Some("/api/v1")
        );
    }

    fn find_ok<'a>(routes: &'a [Route], host: Option<&str>, path: &str) -> Option<&'a Route> {
        find(routes, host, path).unwrap_or_else(|e| panic!("{path}: {e:?}"))
    }

    #[test]
    fn refuses_paths_whose_route_depends_on_case_or_normalisation() {
        let routes = [
            route(None, "/admin"),
            route(None, "/Reports"),
            route(None, "/"),
        ];
        // Express and IIS would serve these from /admin or /Reports.
        for path in [
            "/ADMIN/users",
            "/Admin",
            "/%EF%BD%81dmin/users",
            "/%EF%BC%A1DMIN",
            "/reports/q1",
        ] {
            assert_eq!(
                find(&routes, None, path).map(|r| r.map(|r| r.prefix.clone())),
                Err(PathRefusal::RouteDependsOnCase),
                "{path}"
            );
        }
        // Same route either way: served.
        for (path, want) in [
            ("/admin/Users", "/admin"),
            ("/Reports/Q1", "/Reports"),
            ("/Other/%C3%A9", ""),
            ("/api/x", ""),
        ] {
            assert_eq!(
                find_ok(&routes, None, path).map(|r| r.prefix.as_str()),
                Some(want),
                "{path}"
            );
        }
    }
}
