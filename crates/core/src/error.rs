use thiserror::Error;

/// Why an RFC 4514 distinguished-name string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DnError {
    /// An attribute type was neither a known short name nor a dotted OID.
    #[error(
        "unknown attribute type '{0}' at byte {1}: use a standard name such as CN, O, OU, C or a dotted OID"
    )]
    UnknownAttributeType(String, usize),
    /// An attribute type was missing before `=`.
    #[error("expected an attribute type at byte {0}")]
    MissingAttributeType(usize),
    /// `=` did not follow an attribute type.
    #[error("expected '=' after the attribute type at byte {0}")]
    MissingEquals(usize),
    /// A backslash was not followed by a special character or two hex digits.
    #[error(
        "invalid escape sequence at byte {0}: use \\ followed by one of ,+\"\\<>;=# space, or two hex digits"
    )]
    InvalidEscape(usize),
    /// A character that must be escaped appeared unescaped.
    #[error("unescaped '{0}' at byte {1}: escape it with a backslash")]
    UnescapedSpecial(char, usize),
    /// A `#`-prefixed value was not valid hex-encoded BER.
    #[error(
        "invalid hex-encoded value at byte {0}: expected '#' followed by an even number of hex digits forming one BER element"
    )]
    InvalidHexValue(usize),
    /// Escaped bytes did not form valid UTF-8.
    #[error("attribute value ending at byte {0} is not valid UTF-8 after unescaping")]
    InvalidUtf8(usize),
    /// An RDN was empty, e.g. `CN=a,,O=b`.
    #[error("empty relative distinguished name at byte {0}")]
    EmptyRdn(usize),
}

/// Why a DER certificate could not be turned into a [`crate::CertificateIdentity`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdentityError {
    /// The bytes are not a DER X.509 certificate.
    #[error("not a DER-encoded X.509 certificate: {0}")]
    NotACertificate(String),
    /// Bytes followed the certificate; a DER certificate must stand alone.
    #[error("{0} unexpected bytes after the certificate")]
    TrailingData(usize),
    /// The subjectAltName extension could not be decoded.
    #[error("malformed subjectAltName extension: {0}")]
    BadSubjectAltName(String),
    /// The validity window is not representable.
    #[error("certificate validity time is out of range")]
    BadValidity,
}
