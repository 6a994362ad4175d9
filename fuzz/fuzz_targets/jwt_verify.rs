//! Any bytes as a JWT access token, verified as the guard verifies one
//! (RFC 9068 `typ`, issuer, audience, asymmetric algorithms) against a
//! fixed one-key JWKS: never a panic, and whatever is accepted satisfies
//! the policy. Seeds are tokens signed with that key, so mutations of
//! their headers and claims also reach the checks past the signature.
#![no_main]

use certbound_core::AccessTokenClaims;
use certbound_fuzz::{NOW, check_accepted, keys, runtime, verifier};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let verified = runtime().block_on(verifier().verify::<AccessTokenClaims>(token, keys(), NOW));
    if let Ok(claims) = verified {
        check_accepted(&claims);
    }
});
