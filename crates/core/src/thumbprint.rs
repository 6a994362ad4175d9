//! The RFC 8705 §3.1 certificate thumbprint, `x5t#S256`.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// SHA-256 over a certificate's DER: the value bound into `cnf.x5t#S256`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Thumbprint([u8; 32]);

impl Thumbprint {
    /// Hashes a DER certificate.
    pub fn of_der(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }

    /// Parses the base64url (unpadded) form used in JWT `cnf` claims.
    pub fn from_base64url(text: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        // A 32-byte value encodes to exactly 43 characters; reject anything else
        // before decoding so oversized input costs nothing.
        if text.len() != 43 {
            return None;
        }
        let n = URL_SAFE_NO_PAD.decode_slice(text, &mut out).ok()?;
        (n == 32).then_some(Self(out))
    }

    /// The raw 32 digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The base64url form, in a stack buffer: per-request users (token
    /// claims, proxy headers) need the text without an allocation.
    pub fn to_base64url(&self) -> ThumbprintText {
        let mut text = [0u8; THUMBPRINT_TEXT_LEN];
        // 32 bytes always encode to exactly 43 characters, so this cannot fail.
        let _ = URL_SAFE_NO_PAD.encode_slice(self.0, &mut text);
        ThumbprintText(text)
    }

    /// The digest as lowercase hex, the form Envoy puts in XFCC `Hash=`.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.to_base64url().as_str())
    }
}

/// Length of a SHA-256 digest in unpadded base64url.
const THUMBPRINT_TEXT_LEN: usize = 43;

/// A thumbprint's base64url text, held on the stack.
#[derive(Clone, Copy)]
pub struct ThumbprintText([u8; THUMBPRINT_TEXT_LEN]);

impl ThumbprintText {
    /// The text (always 43 base64url characters).
    pub fn as_str(&self) -> &str {
        // base64url output is ASCII; the fallback is unreachable.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Thumbprint({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // SHA-256("abc"), a FIPS 180-2 test vector, in base64url.
        let t = Thumbprint::of_der(b"abc");
        assert_eq!(t.to_string(), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
        assert_eq!(
            t.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Thumbprint::from_base64url(&t.to_string()), Some(t));
        assert_eq!(t.to_base64url().as_str(), t.to_string());
        let other = Thumbprint::of_der(b"");
        assert_eq!(
            other.to_base64url().as_str(),
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
    }

    #[test]
    fn rejects_malformed_text() {
        assert_eq!(Thumbprint::from_base64url(""), None);
        assert_eq!(
            Thumbprint::from_base64url("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0="),
            None
        );
        assert_eq!(
            Thumbprint::from_base64url("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0"),
            None
        );
    }
}
