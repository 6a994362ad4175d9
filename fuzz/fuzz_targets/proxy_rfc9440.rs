//! RFC 9440 Client-Cert / Client-Cert-Chain header values.
#![no_main]

use certbound_tls::proxy::rfc9440;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rfc9440::parse_client_cert(data);
    let _ = rfc9440::parse_client_cert_chain(data.split(|b| *b == b'\n'));
});
