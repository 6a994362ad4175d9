//! Attribute values as they appear in DER: certificate names and the
//! `#`-prefixed hex form of RFC 4514 §2.4.

use x509_parser::asn1_rs::{Any, FromBer, ToDer};
use x509_parser::x509::X509Name;

use super::{AttributeTypeAndValue, AttributeValue, DistinguishedName, RelativeDistinguishedName};

const UTF8_STRING: u32 = 12;
const NUMERIC_STRING: u32 = 18;
const PRINTABLE_STRING: u32 = 19;
const T61_STRING: u32 = 20;
const IA5_STRING: u32 = 22;
const VISIBLE_STRING: u32 = 26;
const UNIVERSAL_STRING: u32 = 28;
const BMP_STRING: u32 = 30;

/// Converts a certificate's subject or issuer into RFC 4514 order.
pub(crate) fn from_x509_name(name: &X509Name<'_>) -> DistinguishedName {
    let mut rdns: Vec<RelativeDistinguishedName> = name
        .iter()
        .map(|rdn| {
            RelativeDistinguishedName::new(
                rdn.iter()
                    .map(|ava| {
                        AttributeTypeAndValue::new(
                            ava.attr_type().to_id_string(),
                            value_from_any(ava.attr_value()),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    // Certificates list RDNs from the root down; RFC 4514 strings go the other way.
    rdns.reverse();
    DistinguishedName::new(rdns)
}

/// Decodes one complete BER element given as `#hex` in a DN string.
pub(super) fn value_from_ber(bytes: &[u8]) -> Option<AttributeValue> {
    let (rest, any) = Any::from_ber(bytes).ok()?;
    if !rest.is_empty() {
        return None;
    }
    Some(match text_from_tagged(any.tag().0, any.data) {
        Some(text) => AttributeValue::Text(text),
        None => AttributeValue::Binary(bytes.to_vec()),
    })
}

fn value_from_any(any: &Any<'_>) -> AttributeValue {
    match text_from_tagged(any.tag().0, any.data) {
        Some(text) => AttributeValue::Text(text),
        // Re-encoding a parsed element cannot fail in practice; an empty
        // binary value still compares unequal to any real one.
        None => AttributeValue::Binary(any.to_der_vec().unwrap_or_default()),
    }
}

fn text_from_tagged(tag: u32, data: &[u8]) -> Option<String> {
    match tag {
        UTF8_STRING | NUMERIC_STRING | PRINTABLE_STRING | IA5_STRING | VISIBLE_STRING => {
            String::from_utf8(data.to_vec()).ok()
        }
        // T.61 in practice carries Latin-1 in certificates.
        T61_STRING => Some(data.iter().map(|&b| char::from(b)).collect()),
        BMP_STRING => {
            if !data.len().is_multiple_of(2) {
                return None;
            }
            let units = data
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        UNIVERSAL_STRING => {
            if !data.len().is_multiple_of(4) {
                return None;
            }
            data.chunks_exact(4)
                .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_string_types() {
        assert_eq!(
            value_from_ber(&[0x0c, 0x02, b'h', b'i']),
            Some(AttributeValue::Text("hi".into()))
        );
        assert_eq!(
            value_from_ber(&[0x1e, 0x04, 0x00, b'h', 0x00, b'i']),
            Some(AttributeValue::Text("hi".into()))
        );
        // An INTEGER stays binary.
        assert_eq!(
            value_from_ber(&[0x02, 0x01, 0x05]),
            Some(AttributeValue::Binary(vec![0x02, 0x01, 0x05]))
        );
        // Trailing garbage and truncation are rejected.
        assert_eq!(value_from_ber(&[0x0c, 0x01, b'h', 0x00]), None);
        assert_eq!(value_from_ber(&[0x0c, 0x05, b'h']), None);
    }
}
