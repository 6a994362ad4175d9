//! Envoy X-Forwarded-Client-Cert header values.
#![no_main]

use certbound_tls::proxy::envoy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = envoy::parse_xfcc(data);
});
