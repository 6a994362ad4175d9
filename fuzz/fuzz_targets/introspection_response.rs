//! RFC 7662 introspection responses as the guard reads the authorization
//! server's answer: never a panic; an active answer is accepted only for
//! the expected issuer and audience, with its `cnf` read exactly.
#![no_main]

use certbound_core::Thumbprint;
use certbound_fuzz::{AUDIENCE, ISSUER, guard_options};
use certbound_guard::fuzzing::introspection_response;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(answer) = introspection_response(data, guard_options()) else {
        return;
    };
    let json: serde_json::Value = serde_json::from_slice(data).expect("an accepted answer is JSON");
    let Some(token) = answer else {
        assert_eq!(json["active"], false, "inactive from {json}");
        return;
    };
    assert_eq!(json["active"], true);
    assert_eq!(json["iss"], ISSUER);
    assert_eq!(token.audience, AUDIENCE);
    assert_eq!(json["aud"], AUDIENCE);
    assert_eq!(json["sub"], token.subject.as_str());
    assert_eq!(json["client_id"], token.client_id.as_str());
    for scope in &token.scopes {
        assert!(!scope.is_empty() && !scope.contains(' '), "scope {scope:?}");
    }
    match (&json["cnf"]["x5t#S256"], token.thumbprint) {
        (serde_json::Value::Null, None) => {}
        (serde_json::Value::String(x5t), Some(t)) => {
            assert_eq!(*x5t, t.to_string(), "cnf read as another thumbprint");
            assert_eq!(Thumbprint::from_base64url(x5t), Some(t));
        }
        (cnf, t) => panic!("cnf {cnf} read as {t:?}"),
    }
});
