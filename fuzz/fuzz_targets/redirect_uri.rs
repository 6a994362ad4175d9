//! Redirect URIs a client may register (RFC 6749 §3.1.2, RFC 8252, RFC
//! 9700 §2.1): never a panic; an accepted URI is printable ASCII, kept
//! byte for byte, parses again to itself, and is https, loopback http, or a
//! reverse-domain app scheme, with no fragment, wildcard or user info.
#![no_main]

use std::net::IpAddr;

use certbound_core::RedirectUri;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(uri) = RedirectUri::parse(text) else {
        return;
    };
    assert_eq!(uri.as_str(), text, "not kept as registered");
    assert_eq!(RedirectUri::parse(uri.as_str()).as_ref(), Ok(&uri));
    assert!(!text.contains('#') && !text.contains('*'), "{text:?}");
    assert!(text.bytes().all(|b| b.is_ascii_graphic()), "{text:?}");
    let parsed = url::Url::parse(text).expect("an accepted redirect URI is a URL");
    assert!(
        parsed.username().is_empty() && parsed.password().is_none(),
        "{text:?}"
    );
    match parsed.scheme() {
        "https" => assert!(parsed.host().is_some(), "{text:?}"),
        "http" => {
            let loopback = match parsed.host() {
                Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
                Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
                _ => false,
            };
            assert!(loopback, "plain http to {:?}", parsed.host());
            assert!(uri.is_loopback());
        }
        other => assert!(other.contains('.'), "scheme {other:?} accepted"),
    }
    if uri.is_loopback() {
        assert_eq!(parsed.scheme(), "http", "{text:?}");
    }
});
