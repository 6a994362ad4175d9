//! The client address a trusted proxy reports (`listeners.proxy.client_address_header`):
//! each line one value of the header, in order.
#![no_main]

use std::net::IpAddr;

use certbound_tls::forwarded_address;
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let name = HeaderName::from_static("x-forwarded-for");
    let mut headers = HeaderMap::new();
    let mut last = None;
    for line in data.split(|&b| b == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(&name, value);
            last = Some(line);
        }
    }
    let Some(ip) = forwarded_address(&headers, &name) else {
        return;
    };
    // Only ever the rightmost entry of the last value, read as an address.
    let last = std::str::from_utf8(last.unwrap_or_default()).unwrap_or_default();
    let entry = last.rsplit(',').next().unwrap_or_default().trim();
    let parsed: IpAddr = entry.parse().unwrap_or_else(|_| panic!("{entry:?} is no address"));
    assert_eq!(ip, parsed.to_canonical());
});
