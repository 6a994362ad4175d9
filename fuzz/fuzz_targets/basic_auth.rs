//! HTTP Basic client credentials (RFC 6749 §2.3.1) at the token,
//! introspection and revocation endpoints: never a panic, never an empty
//! client id, and credentials encoded the RFC's way parse back to themselves.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use certbound_server::fuzzing::parse_basic;
use libfuzzer_sys::fuzz_target;

/// `application/x-www-form-urlencoded` encoding, as RFC 6749 §2.3.1 asks.
fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok((id, secret)) = parse_basic(data) else {
        return;
    };
    assert!(!id.is_empty(), "empty client id from {data:?}");
    let value = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", urlencode(&id), urlencode(&secret)))
    );
    match parse_basic(value.as_bytes()) {
        Ok(again) => assert_eq!(again, (id, secret), "round trip through {value:?}"),
        Err(e) => panic!("re-encoded {value:?} refused: {}", e.description),
    }
});
