//! RFC 9440 `Client-Cert` / `Client-Cert-Chain`: Structured Field Byte
//! Sequences holding base64 DER, parsed with the `sfv` library.

use rustls::pki_types::CertificateDer;
use sfv::{Item, List, ListEntry, Parser};

use crate::ProxyHeaderError;

/// Parses a `Client-Cert` value (`:BASE64DER:`).
pub fn parse_client_cert(value: &[u8]) -> Result<CertificateDer<'static>, ProxyHeaderError> {
    let item: Item = Parser::new(value).parse_item().map_err(|e| {
        ProxyHeaderError::new("Client-Cert", format!("not a Structured Field Item: {e}"))
    })?;
    let der = item.bare_item.as_byte_sequence().ok_or_else(|| {
        ProxyHeaderError::new("Client-Cert", "expected a Byte Sequence (:base64 DER:)")
    })?;
    non_empty(der, "Client-Cert")
}

/// Parses every `Client-Cert-Chain` line into the intermediates, in order.
pub fn parse_client_cert_chain<'a>(
    lines: impl Iterator<Item = &'a [u8]>,
) -> Result<Vec<CertificateDer<'static>>, ProxyHeaderError> {
    let mut list = List::new();
    for line in lines {
        list = Parser::new(line)
            .parse_list_with_visitor(list)
            .map_err(|e| {
                ProxyHeaderError::new(
                    "Client-Cert-Chain",
                    format!("not a Structured Field List: {e}"),
                )
            })?;
    }
    list.iter()
        .map(|entry| match entry {
            ListEntry::Item(item) => item
                .bare_item
                .as_byte_sequence()
                .ok_or_else(|| {
                    ProxyHeaderError::new(
                        "Client-Cert-Chain",
                        "every member must be a Byte Sequence",
                    )
                })
                .and_then(|der| non_empty(der, "Client-Cert-Chain")),
            ListEntry::InnerList(_) => Err(ProxyHeaderError::new(
                "Client-Cert-Chain",
                "inner lists are not allowed",
            )),
        })
        .collect()
}

fn non_empty(
    der: &[u8],
    header: &'static str,
) -> Result<CertificateDer<'static>, ProxyHeaderError> {
    if der.is_empty() {
        return Err(ProxyHeaderError::new(header, "empty certificate"));
    }
    Ok(CertificateDer::from(der.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_byte_sequences() {
        assert_eq!(
            parse_client_cert(b":AQID:").map(|c| c.to_vec()),
            Ok(vec![1, 2, 3])
        );
        let chain = parse_client_cert_chain([&b":AQID:, :BAU=:"[..], b":Bg==:"].into_iter());
        assert_eq!(chain.map(|c| c.len()), Ok(3));
    }

    #[test]
    fn rejects_other_shapes() {
        for bad in [
            &b"AQID"[..],
            b"\"AQID\"",
            b":AQID",
            b"::",
            b":!!:",
            b"",
            b":AQID:, :BAU=:",
        ] {
            let err = parse_client_cert(bad);
            assert!(
                matches!(&err, Err(e) if e.header == "Client-Cert"),
                "{bad:?}: {err:?}"
            );
        }
        assert!(parse_client_cert_chain([&b"(:AQID:)"[..]].into_iter()).is_err());
        assert!(parse_client_cert_chain([&b"1, 2"[..]].into_iter()).is_err());
    }
}
