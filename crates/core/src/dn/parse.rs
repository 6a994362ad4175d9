//! RFC 4514 string parser. Lenient where real configs are (spaces around
//! separators, `;` as RDN separator, descriptor case), strict where it
//! matters (escapes, unescaped specials, unknown attribute types).

use super::{
    AttributeTypeAndValue, AttributeValue, DistinguishedName, RelativeDistinguishedName, attribute,
    ber,
};
use crate::DnError;

pub(super) fn parse(text: &str) -> Result<DistinguishedName, DnError> {
    let mut p = Parser {
        s: text.as_bytes(),
        pos: 0,
    };
    p.skip_spaces();
    let mut rdns = Vec::new();
    if p.peek().is_none() {
        return Ok(DistinguishedName::new(rdns));
    }
    loop {
        rdns.push(p.rdn()?);
        p.skip_spaces();
        match p.peek() {
            None => break,
            Some(b',' | b';') => {
                p.pos += 1;
                p.skip_spaces();
                if matches!(p.peek(), None | Some(b',' | b';')) {
                    return Err(DnError::EmptyRdn(p.pos));
                }
            }
            Some(c) => return Err(DnError::UnescapedSpecial(char::from(c), p.pos)),
        }
    }
    Ok(DistinguishedName::new(rdns))
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    fn rdn(&mut self) -> Result<RelativeDistinguishedName, DnError> {
        let mut attributes = vec![self.attribute()?];
        loop {
            self.skip_spaces();
            if self.peek() != Some(b'+') {
                return Ok(RelativeDistinguishedName::new(attributes));
            }
            self.pos += 1;
            self.skip_spaces();
            attributes.push(self.attribute()?);
        }
    }

    fn attribute(&mut self) -> Result<AttributeTypeAndValue, DnError> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            self.pos += 1;
        }
        // The loop above only consumed ASCII, so this slice is valid UTF-8.
        let name = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or_default();
        if name.is_empty() {
            return Err(DnError::MissingAttributeType(start));
        }
        let oid = attribute::oid_for(name)
            .ok_or_else(|| DnError::UnknownAttributeType(name.to_owned(), start))?;
        self.skip_spaces();
        if self.peek() != Some(b'=') {
            return Err(DnError::MissingEquals(self.pos));
        }
        self.pos += 1;
        self.skip_spaces();
        let value = if self.peek() == Some(b'#') {
            self.hex_value()?
        } else {
            self.string_value()?
        };
        Ok(AttributeTypeAndValue::new(oid, value))
    }

    fn hex_value(&mut self) -> Result<AttributeValue, DnError> {
        let start = self.pos;
        self.pos += 1;
        let digits_start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_hexdigit()) {
            self.pos += 1;
        }
        let digits = &self.s[digits_start..self.pos];
        if digits.is_empty() || !digits.len().is_multiple_of(2) {
            return Err(DnError::InvalidHexValue(start));
        }
        let bytes: Vec<u8> = digits
            .chunks_exact(2)
            .map(|pair| hex_byte(pair[0], pair[1]))
            .collect::<Option<_>>()
            .ok_or(DnError::InvalidHexValue(start))?;
        self.skip_spaces();
        if !matches!(self.peek(), None | Some(b',' | b';' | b'+')) {
            return Err(DnError::InvalidHexValue(start));
        }
        ber::value_from_ber(&bytes).ok_or(DnError::InvalidHexValue(start))
    }

    fn string_value(&mut self) -> Result<AttributeValue, DnError> {
        let mut buf = Vec::new();
        // Length of `buf` up to its last significant (non-space or escaped) byte:
        // unescaped trailing spaces are not part of the value.
        let mut significant = 0;
        loop {
            match self.peek() {
                None | Some(b',' | b';' | b'+') => break,
                Some(b'\\') => {
                    let at = self.pos;
                    self.pos += 1;
                    match self.peek() {
                        Some(
                            c @ (b'"' | b'+' | b',' | b';' | b'<' | b'>' | b'\\' | b' ' | b'#'
                            | b'='),
                        ) => {
                            buf.push(c);
                            self.pos += 1;
                        }
                        Some(h) => {
                            let l = self
                                .s
                                .get(self.pos + 1)
                                .copied()
                                .ok_or(DnError::InvalidEscape(at))?;
                            buf.push(hex_byte(h, l).ok_or(DnError::InvalidEscape(at))?);
                            self.pos += 2;
                        }
                        None => return Err(DnError::InvalidEscape(at)),
                    }
                    significant = buf.len();
                }
                Some(c @ (b'"' | b'<' | b'>' | b'\0')) => {
                    return Err(DnError::UnescapedSpecial(char::from(c), self.pos));
                }
                Some(b' ') => {
                    buf.push(b' ');
                    self.pos += 1;
                }
                Some(c) => {
                    buf.push(c);
                    self.pos += 1;
                    significant = buf.len();
                }
            }
        }
        buf.truncate(significant);
        String::from_utf8(buf)
            .map(AttributeValue::Text)
            .map_err(|_| DnError::InvalidUtf8(self.pos))
    }
}

fn hex_byte(h: u8, l: u8) -> Option<u8> {
    let digit = |c: u8| char::from(c).to_digit(16);
    // Two hex digits are at most 255, so the cast never truncates.
    Some((digit(h)? * 16 + digit(l)?) as u8)
}
