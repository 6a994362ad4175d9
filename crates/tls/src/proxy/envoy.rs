//! Envoy `X-Forwarded-Client-Cert` (XFCC): comma-separated elements, one per
//! proxy hop, each `Key=Value` pairs separated by `;`, values optionally
//! double-quoted with `\"` escapes. We read the last element, the one our
//! nearest (trusted) proxy appended, and its URL-encoded PEM `Cert`
//! (plus `Chain` when present), checking `Hash` when Envoy sent one.

use percent_encoding::percent_decode;
use rustls::pki_types::CertificateDer;

use crate::ProxyHeaderError;

const HEADER: &str = "X-Forwarded-Client-Cert";

fn err(reason: impl Into<String>) -> ProxyHeaderError {
    ProxyHeaderError::new(HEADER, reason)
}

/// Parses an XFCC value into the client's chain, end entity first.
pub fn parse_xfcc(value: &[u8]) -> Result<Vec<CertificateDer<'static>>, ProxyHeaderError> {
    let text = std::str::from_utf8(value).map_err(|_| err("not valid UTF-8"))?;
    let elements = split_unquoted(text, ',')?;
    let last = elements
        .iter()
        .rev()
        .find(|e| !e.trim().is_empty())
        .ok_or_else(|| err("no element"))?;
    let (mut cert, mut chain, mut hash) = (None, None, None);
    for pair in split_unquoted(last, ';')? {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let (key, raw) = pair
            .split_once('=')
            .ok_or_else(|| err(format!("'{}' is not Key=Value", truncate(pair))))?;
        let value = unquote(raw.trim())?;
        let slot = match key.trim().to_ascii_lowercase().as_str() {
            "cert" => &mut cert,
            "chain" => &mut chain,
            "hash" => &mut hash,
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(err(format!("{} appears more than once", key.trim())));
        }
    }
    let cert = cert.ok_or_else(|| {
        err("the last element has no Cert=; set Envoy's forward_client_cert_details with set_current_client_cert_details.cert: true")
    })?;
    let mut certs = pem_from_url_encoded(&cert)?;
    if let Some(hash) = hash {
        let actual = certbound_core::Thumbprint::of_der(&certs[0]).to_hex();
        if !hash.eq_ignore_ascii_case(&actual) {
            return Err(err("Hash= does not match the SHA-256 of Cert="));
        }
    }
    if let Some(chain) = chain {
        // Envoy's Chain starts with the leaf; keep the intermediates.
        let full = pem_from_url_encoded(&chain)?;
        if full.first() != certs.first() {
            return Err(err("Chain= does not start with Cert="));
        }
        certs.extend(full.into_iter().skip(1));
    }
    Ok(certs)
}

fn pem_from_url_encoded(value: &str) -> Result<Vec<CertificateDer<'static>>, ProxyHeaderError> {
    let pem: Vec<u8> = percent_decode(value.as_bytes()).collect();
    super::certificates_from_pem(&pem, HEADER)
}

/// Splits on `sep` outside double quotes; a backslash escapes inside quotes.
fn split_unquoted(text: &str, sep: char) -> Result<Vec<&str>, ProxyHeaderError> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    if quoted {
        return Err(err("unterminated double quote"));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

fn unquote(value: &str) -> Result<String, ProxyHeaderError> {
    let Some(inner) = value.strip_prefix('"') else {
        return Ok(value.to_owned());
    };
    let inner = inner
        .strip_suffix('"')
        .ok_or_else(|| err("text after a closing double quote"))?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next().ok_or_else(|| err("dangling backslash"))?),
            '"' => return Err(err("unescaped double quote inside a quoted value")),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_respecting_quotes() {
        let parts = split_unquoted(r#"By=a;Subject="CN=x,O=y;z";URI=u"#, ';').unwrap_or_default();
        assert_eq!(parts, vec!["By=a", r#"Subject="CN=x,O=y;z""#, "URI=u"]);
        assert_eq!(unquote(r#""a\"b""#), Ok("a\"b".to_owned()));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            &b"By=spiffe://x"[..],
            b"Cert=\"unterminated",
            b"Cert",
            b"Cert=notpem",
            b"Cert=a;Cert=b",
            b"",
            b"\xff\xfe",
            b"Cert=\"a\"b",
        ] {
            let e = parse_xfcc(bad);
            assert!(matches!(&e, Err(x) if x.header == HEADER), "{bad:?}: {e:?}");
        }
    }
}
