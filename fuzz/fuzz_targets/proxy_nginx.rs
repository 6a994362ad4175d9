//! nginx $ssl_client_escaped_cert (X-SSL-Client-Cert) header values.
#![no_main]

use certbound_tls::proxy::nginx;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = nginx::parse_escaped_pem(data);
});
