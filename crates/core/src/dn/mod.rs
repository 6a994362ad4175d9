//! RFC 4514 distinguished names: parsed from strings or certificates, printed
//! in RFC 4514 form, and compared with RFC 4517 `distinguishedNameMatch`
//! using RFC 4518 string preparation (case-insensitive, whitespace-folded,
//! NFKC-normalised), which is what `tls_client_auth_subject_dn` needs.

mod attribute;
mod ber;
mod parse;
mod prep;

use std::fmt::{self, Write as _};
use std::str::FromStr;
use std::sync::OnceLock;

use crate::DnError;

/// A distinguished name, RDNs in RFC 4514 string order (most specific first).
#[derive(Debug, Clone)]
pub struct DistinguishedName {
    rdns: Vec<RelativeDistinguishedName>,
}

/// One RDN: one or more attribute assertions joined by `+`.
#[derive(Debug, Clone)]
pub struct RelativeDistinguishedName {
    attributes: Vec<AttributeTypeAndValue>,
    /// The RFC 4518-prepared form, made on the first comparison and kept: a
    /// registered DN and a connection's certificate are compared on every
    /// token request, and preparation (NFKC and all) is the costly part.
    prepared: OnceLock<Option<Vec<(String, CanonicalValue)>>>,
}

/// `type=value` inside an RDN.
#[derive(Debug, Clone)]
pub struct AttributeTypeAndValue {
    oid: String,
    value: AttributeValue,
}

/// An attribute value: text for directory string types, raw BER otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    /// A character string (UTF8String, PrintableString, IA5String, BMPString…).
    Text(String),
    /// The full BER encoding of a value that is not a character string.
    Binary(Vec<u8>),
}

impl DistinguishedName {
    /// Builds a DN from RDNs given in RFC 4514 order.
    pub fn new(rdns: Vec<RelativeDistinguishedName>) -> Self {
        Self { rdns }
    }

    /// Parses an RFC 4514 string such as `CN=Client A,O=Bank`.
    pub fn parse(text: &str) -> Result<Self, DnError> {
        parse::parse(text)
    }

    /// The RDNs in RFC 4514 order.
    pub fn rdns(&self) -> &[RelativeDistinguishedName] {
        &self.rdns
    }

    /// True when the DN has no RDNs (an empty subject).
    pub fn is_empty(&self) -> bool {
        self.rdns.is_empty()
    }

    /// RFC 4517 `distinguishedNameMatch`: same RDN sequence, each RDN the same
    /// set of assertions, values equal after RFC 4518 preparation.
    pub fn matches(&self, other: &DistinguishedName) -> bool {
        self.rdns.len() == other.rdns.len()
            && self.rdns.iter().zip(&other.rdns).all(|(a, b)| a.matches(b))
    }

    /// First value of an attribute (by dotted OID), e.g. the CN.
    pub fn first_text(&self, oid: &str) -> Option<&str> {
        self.rdns
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|a| a.oid == oid)
            .and_then(|a| match &a.value {
                AttributeValue::Text(t) => Some(t.as_str()),
                AttributeValue::Binary(_) => None,
            })
    }
}

impl PartialEq for DistinguishedName {
    fn eq(&self, other: &Self) -> bool {
        self.matches(other)
    }
}

impl FromStr for DistinguishedName {
    type Err = DnError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl RelativeDistinguishedName {
    /// Builds an RDN; a multi-valued RDN has several attributes.
    pub fn new(attributes: Vec<AttributeTypeAndValue>) -> Self {
        Self {
            attributes,
            prepared: OnceLock::new(),
        }
    }

    /// The attribute assertions in this RDN.
    pub fn attributes(&self) -> &[AttributeTypeAndValue] {
        &self.attributes
    }

    /// Every value prepared, in a canonical order (multi-valued RDNs are
    /// sets); `None` if a value fails preparation.
    fn canonical(&self) -> Option<Vec<(String, CanonicalValue)>> {
        let mut v: Vec<(String, CanonicalValue)> = self
            .attributes
            .iter()
            .map(|a| a.value.canonical().map(|c| (a.oid.clone(), c)))
            .collect::<Option<_>>()?;
        v.sort();
        Some(v)
    }

    fn prepared(&self) -> Option<&[(String, CanonicalValue)]> {
        self.prepared.get_or_init(|| self.canonical()).as_deref()
    }

    fn matches(&self, other: &Self) -> bool {
        if self.attributes.len() != other.attributes.len() {
            return false;
        }
        match (self.prepared(), other.prepared()) {
            (Some(a), Some(b)) => a == b,
            // A value that fails preparation never matches (RFC 4518 §2.4).
            _ => false,
        }
    }

    /// The same comparison, preparing afresh instead of using the kept forms.
    #[cfg(test)]
    fn matches_prepared(&self, other: &Self) -> bool {
        self.attributes.len() == other.attributes.len()
            && matches!((self.canonical(), other.canonical()), (Some(a), Some(b)) if a == b)
    }
}

impl AttributeTypeAndValue {
    /// Builds an assertion from a dotted OID and a value.
    pub fn new(oid: impl Into<String>, value: AttributeValue) -> Self {
        Self {
            oid: oid.into(),
            value,
        }
    }

    /// The attribute type as a dotted OID.
    pub fn oid(&self) -> &str {
        &self.oid
    }

    /// The attribute value.
    pub fn value(&self) -> &AttributeValue {
        &self.value
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum CanonicalValue {
    Text(String),
    Binary(Vec<u8>),
}

impl AttributeValue {
    fn canonical(&self) -> Option<CanonicalValue> {
        match self {
            AttributeValue::Text(t) => prep::prepare_case_ignore(t).map(CanonicalValue::Text),
            AttributeValue::Binary(b) => Some(CanonicalValue::Binary(b.clone())),
        }
    }
}

impl fmt::Display for DistinguishedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rdn) in self.rdns.iter().enumerate() {
            if i > 0 {
                f.write_char(',')?;
            }
            for (j, ava) in rdn.attributes.iter().enumerate() {
                if j > 0 {
                    f.write_char('+')?;
                }
                write!(f, "{ava}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for AttributeTypeAndValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(attribute::name_for(&self.oid).unwrap_or(&self.oid))?;
        f.write_char('=')?;
        match &self.value {
            AttributeValue::Text(t) => write_escaped(f, t),
            AttributeValue::Binary(b) => {
                f.write_char('#')?;
                b.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
            }
        }
    }
}

/// RFC 4514 §2.4 escaping.
fn write_escaped(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                f.write_char('\\')?;
                f.write_char(c)?;
            }
            '#' if i == 0 => f.write_str("\\#")?,
            ' ' if i == 0 || i == last => f.write_str("\\ ")?,
            '\0' => f.write_str("\\00")?,
            // Other control characters are legal but invisible; hex-escape them
            // so a printed DN can be copied into a config file unchanged.
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    write!(f, "\\{b:02x}")?;
                }
            }
            c => f.write_char(c)?,
        }
    }
    Ok(())
}

pub(crate) use ber::from_x509_name;

#[cfg(test)]
mod tests;
