//! PKCE (RFC 7636) as /authorize and the token endpoint read it. Input:
//! `code_challenge`, `code_challenge_method` and `code_verifier`, one per
//! line. Never a panic; only S256 with a 43-character challenge is
//! accepted; a verifier matches exactly when its SHA-256 is the challenge;
//! and every well-formed verifier matches the challenge made from it.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use certbound_core::{CodeChallenge, PkceError};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fn well_formed_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let mut field = || lines.next().filter(|s| !s.is_empty());
    let (challenge, method, verifier) = (field(), field(), field());
    let s256 = |v: &str| URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()));

    if let Some(v) = verifier {
        // The challenge a client computes from its verifier always parses,
        // and that verifier matches it exactly when it is well formed.
        let own = CodeChallenge::from_request(Some(&s256(v)), Some("S256"))
            .expect("a computed S256 challenge parses");
        let want = if well_formed_verifier(v) {
            Ok(())
        } else {
            Err(PkceError::VerifierSyntax)
        };
        assert_eq!(own.verify(Some(v)), want, "verifier {v:?}");
    }

    let Ok(parsed) = CodeChallenge::from_request(challenge, method) else {
        return;
    };
    assert_eq!(method, Some("S256"));
    assert_eq!(Some(parsed.as_str()), challenge);
    assert_eq!(parsed.as_str().len(), 43);
    assert_eq!(
        CodeChallenge::from_stored(parsed.as_str()).as_ref(),
        Ok(&parsed)
    );
    match parsed.verify(verifier) {
        Ok(()) => {
            let v = verifier.expect("a match needs a verifier");
            assert!(well_formed_verifier(v));
            assert_eq!(s256(v), parsed.as_str());
        }
        Err(PkceError::Mismatch) => {
            let v = verifier.expect("a mismatch needs a verifier");
            assert_ne!(s256(v), parsed.as_str());
        }
        Err(_) => {}
    }
});
