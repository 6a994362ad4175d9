//! Registered redirect URIs (RFC 6749 §3.1.2, RFC 8252 for native apps,
//! RFC 9700 §2.1 exact matching): what may be registered, compared as strings.

use std::fmt;
use std::net::IpAddr;

/// A redirect URI a client may register, kept exactly as registered: the
/// authorization request must repeat it byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri(String);

/// Why a redirect URI cannot be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectUriFault {
    /// Not an absolute URI.
    NotAbsolute,
    /// Has a `#fragment` (RFC 6749 §3.1.2).
    Fragment,
    /// Contains `*`: matching is exact, never by pattern.
    Wildcard,
    /// `http` to a host other than a loopback address.
    PlainHttpNotLoopback,
    /// A scheme that is neither `https`, loopback `http` nor a
    /// reverse-domain private-use scheme (RFC 8252 §7.1, `com.example.app:`).
    Scheme,
    /// Has user information (`user@host`), a phishing aid.
    UserInfo,
}

impl fmt::Display for RedirectUriFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotAbsolute => "is not an absolute URI",
            Self::Fragment => "has a fragment (#...), which RFC 6749 §3.1.2 forbids",
            Self::Wildcard => "contains '*'; redirect URIs match exactly, with no wildcards",
            Self::PlainHttpNotLoopback => {
                "uses http to a host that is not a loopback address; use https (http only for 127.0.0.1 or [::1])"
            }
            Self::Scheme => {
                "uses a scheme that is not https, loopback http or a reverse-domain app scheme (com.example.app:/cb)"
            }
            Self::UserInfo => "has user information (user@host)",
        })
    }
}

impl RedirectUri {
    /// Checks `uri` can be registered.
    pub fn parse(uri: &str) -> Result<Self, RedirectUriFault> {
        if uri.contains('*') {
            return Err(RedirectUriFault::Wildcard);
        }
        // URIs are printable ASCII (RFC 3986 §2). The URL parser would strip
        // leading spaces and controls and drop tabs and newlines anywhere,
        // judging another string than the one registered (and sent in `Location`).
        if !uri.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(RedirectUriFault::NotAbsolute);
        }
        let parsed = url::Url::parse(uri).map_err(|_| RedirectUriFault::NotAbsolute)?;
        if parsed.fragment().is_some() || uri.contains('#') {
            return Err(RedirectUriFault::Fragment);
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(RedirectUriFault::UserInfo);
        }
        match parsed.scheme() {
            "https" if parsed.host().is_some() => {}
            "http" => {
                let loopback = match parsed.host() {
                    Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
                    Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
                    _ => false,
                };
                if !loopback {
                    return Err(RedirectUriFault::PlainHttpNotLoopback);
                }
            }
            // A private-use scheme must look like a reversed domain name.
            other if other.contains('.') && !parsed.cannot_be_a_base() => {}
            other if other.contains('.') && parsed.path().starts_with('/') => {}
            _ => return Err(RedirectUriFault::Scheme),
        }
        Ok(Self(uri.to_owned()))
    }

    /// The URI as registered.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is an `http` loopback URI.
    pub fn is_loopback(&self) -> bool {
        // Schemes are case-insensitive (RFC 3986 §3.1): `HTTP://127.0.0.1/` too.
        self.0
            .get(..5)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http:"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_may_be_registered() {
        for ok in [
            "https://app.example/cb",
            "https://app.example:8443/cb?x=1",
            "http://127.0.0.1:5173/cb",
            "http://[::1]/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert_eq!(
                RedirectUri::parse(ok).map(|u| u.0),
                Ok(ok.to_owned()),
                "{ok}"
            );
        }
        for (bad, fault) in [
            ("/cb", RedirectUriFault::NotAbsolute),
            ("https://app.example/cb#x", RedirectUriFault::Fragment),
            ("https://*.example/cb", RedirectUriFault::Wildcard),
            (
                "http://app.example/cb",
                RedirectUriFault::PlainHttpNotLoopback,
            ),
            (
                "http://localhost/cb",
                RedirectUriFault::PlainHttpNotLoopback,
            ),
            ("javascript:alert(1)", RedirectUriFault::Scheme),
            ("ftp://app.example/cb", RedirectUriFault::Scheme),
            ("https://u:p@app.example/cb", RedirectUriFault::UserInfo),
        ] {
            assert_eq!(RedirectUri::parse(bad), Err(fault), "{bad}");
        }
    }

    /// Found by the `redirect_uri` fuzz target: the URL parser reads
    /// `\0http://127.0.0.2/cb` as a loopback URI, but that is not what would
    /// be registered, matched and sent back in a `Location` header.
    #[test]
    fn only_printable_ascii() {
        for bad in [
            "\0http://127.0.0.2/cb",
            " https://app.example/cb",
            "https://app.example/cb ",
            "https://app.example/c\nb",
            "https://app.exa\tmple/cb",
            "https://app.example/caf\u{e9}",
            "https://app.example/\x7f",
        ] {
            assert_eq!(
                RedirectUri::parse(bad),
                Err(RedirectUriFault::NotAbsolute),
                "{bad:?}"
            );
        }
    }

    /// Found by the `redirect_uri` fuzz target: `parse` accepts any case of
    /// `http` for a loopback host, and `is_loopback` must agree.
    #[test]
    fn loopback_whatever_the_scheme_case() {
        for (uri, loopback) in [
            ("http://127.0.0.1:5173/cb", true),
            ("htTp://127.02/cb", true),
            ("HTTP://[::1]/cb", true),
            ("https://app.example/cb", false),
            ("HTTPS://app.example/cb", false),
            ("com.example.app:/cb", false),
        ] {
            let parsed = RedirectUri::parse(uri);
            assert_eq!(parsed.map(|u| u.is_loopback()), Ok(loopback), "{uri}");
        }
    }
}
