//! The JWT header and claims reader behind a valid signature. Input: the
//! JOSE header JSON, a newline, the claims JSON; both are signed as they
//! are with the fixed key, then verified as the guard verifies an access
//! token into the claims type the server and guard share. Never a panic;
//! whatever is accepted satisfies the policy, and an accepted token's
//! header named the key and the RFC 9068 `typ`.
#![no_main]

use certbound_core::AccessTokenClaims;
use certbound_fuzz::{KID, NOW, check_accepted, keys, runtime, sign, verifier};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (header, payload) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let token = sign(header, payload);
    let verified = runtime().block_on(verifier().verify::<AccessTokenClaims>(&token, keys(), NOW));
    if let Ok(claims) = verified {
        check_accepted(&claims);
        let header: serde_json::Value =
            serde_json::from_slice(header).expect("an accepted header is JSON");
        assert_eq!(header["kid"], KID);
        assert_eq!(header["alg"], "EdDSA");
        let typ = header["typ"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(
            typ == "at+jwt" || typ == "application/at+jwt",
            "accepted typ {typ:?}"
        );
    }
});
