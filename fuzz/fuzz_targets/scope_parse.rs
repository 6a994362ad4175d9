//! RFC 6749 §3.3 scope strings (`scope` at /authorize and the token
//! endpoint, client registration): never a panic; accepted tokens are
//! non-empty, distinct, of `scope-token` characters, in the order given,
//! and joining them with spaces parses back to the same list.
#![no_main]

use certbound_server::clients::parse_scope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(scopes) = parse_scope(text) else {
        return;
    };
    let given: Vec<&str> = text.split(' ').filter(|s| !s.is_empty()).collect();
    let mut first_seen: Vec<&str> = Vec::new();
    for token in &given {
        if !first_seen.contains(token) {
            first_seen.push(token);
        }
    }
    assert_eq!(scopes, first_seen, "{text:?}");
    for s in &scopes {
        assert!(
            !s.is_empty()
                && s.bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b)),
            "{s:?} is not a scope-token"
        );
    }
    assert_eq!(parse_scope(&scopes.join(" ")).ok(), Some(scopes));
});
