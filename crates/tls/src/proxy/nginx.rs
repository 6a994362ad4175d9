//! nginx `$ssl_client_escaped_cert`: the client's PEM certificate,
//! URL-escaped, conventionally forwarded as `X-SSL-Client-Cert`.

use percent_encoding::percent_decode;
use rustls::pki_types::CertificateDer;

use crate::ProxyHeaderError;

const HEADER: &str = "X-SSL-Client-Cert";

/// Decodes the escaped PEM into DER certificates (end entity first).
pub fn parse_escaped_pem(value: &[u8]) -> Result<Vec<CertificateDer<'static>>, ProxyHeaderError> {
    let pem: Vec<u8> = percent_decode(value).collect();
    super::certificates_from_pem(&pem, HEADER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage() {
        for bad in [
            &b"hello"[..],
            b"-----BEGIN%20CERTIFICATE-----%0A!!!%0A-----END%20CERTIFICATE-----",
            b"%ZZ",
        ] {
            let err = parse_escaped_pem(bad);
            assert!(
                matches!(&err, Err(e) if e.header == HEADER),
                "{bad:?}: {err:?}"
            );
        }
    }
}
