//! PKCE (RFC 7636) with the S256 method only: `plain` gives no protection
//! when the authorization request leaks, so it is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A `code_challenge` sent with `code_challenge_method=S256`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

/// Why PKCE parameters are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    /// No `code_challenge` in the authorization request.
    #[error("code_challenge is required (PKCE with S256)")]
    ChallengeMissing,
    /// `code_challenge_method` other than S256.
    #[error("code_challenge_method must be S256; plain is not accepted")]
    MethodNotS256,
    /// The challenge is not 43 base64url characters (a SHA-256 hash).
    #[error("code_challenge must be the base64url SHA-256 of the verifier (43 characters)")]
    ChallengeSyntax,
    /// The verifier is not 43-128 unreserved characters (RFC 7636 §4.1).
    #[error("code_verifier must be 43-128 characters of A-Z a-z 0-9 - . _ ~")]
    VerifierSyntax,
    /// `code_verifier` missing at the token endpoint.
    #[error("code_verifier is required")]
    VerifierMissing,
    /// The verifier does not hash to the challenge.
    #[error("code_verifier does not match the code_challenge")]
    Mismatch,
}

impl CodeChallenge {
    /// Checks the authorization request's PKCE parameters; the method
    /// defaults to `plain` in RFC 7636, so leaving it out is refused too.
    pub fn from_request(challenge: Option<&str>, method: Option<&str>) -> Result<Self, PkceError> {
        let challenge = challenge.ok_or(PkceError::ChallengeMissing)?;
        if method != Some("S256") {
            return Err(PkceError::MethodNotS256);
        }
        Self::from_stored(challenge)
    }

    /// A challenge read back from storage (or a request), syntax-checked.
    pub fn from_stored(challenge: &str) -> Result<Self, PkceError> {
        let ok = challenge.len() == 43
            && challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(PkceError::ChallengeSyntax);
        }
        Ok(Self(challenge.to_owned()))
    }

    /// The challenge text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// RFC 7636 §4.6: `BASE64URL(SHA256(verifier)) == challenge`.
    pub fn verify(&self, verifier: Option<&str>) -> Result<(), PkceError> {
        let verifier = verifier.ok_or(PkceError::VerifierMissing)?;
        let ok = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if !ok {
            return Err(PkceError::VerifierSyntax);
        }
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        // Both are public values by the time they meet; equality is enough.
        if computed == self.0 {
            Ok(())
        } else {
            Err(PkceError::Mismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7636_appendix_b() {
        let c = CodeChallenge::from_request(
            Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            Some("S256"),
        );
        let Ok(c) = c else { panic!("{c:?}") };
        assert_eq!(
            c.verify(Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")),
            Ok(())
        );
        assert_eq!(
            c.verify(Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx")),
            Err(PkceError::Mismatch)
        );
        assert_eq!(c.verify(Some("short")), Err(PkceError::VerifierSyntax));
        assert_eq!(c.verify(None), Err(PkceError::VerifierMissing));
    }

    #[test]
    fn only_s256_with_a_well_formed_challenge() {
        let ch = Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert_eq!(
            CodeChallenge::from_request(ch, Some("plain")),
            Err(PkceError::MethodNotS256)
        );
        assert_eq!(
            CodeChallenge::from_request(ch, None),
            Err(PkceError::MethodNotS256)
        );
        assert_eq!(
            CodeChallenge::from_request(None, Some("S256")),
            Err(PkceError::ChallengeMissing)
        );
        assert_eq!(
            CodeChallenge::from_request(Some("abc"), Some("S256")),
            Err(PkceError::ChallengeSyntax)
        );
    }
}
