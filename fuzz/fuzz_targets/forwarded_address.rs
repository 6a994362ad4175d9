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
    // The rightmost comma-separated entry of the last value, whatever bytes
    // come before it: found exactly when it is an IP address.
    let entry = last
        .and_then(|l| l.rsplit(|&b| b == b',').next())
        .and_then(|e| std::str::from_utf8(e).ok())
        .map(str::trim)
        .and_then(|e| e.parse::<IpAddr>().ok());
    assert_eq!(
        forwarded_address(&headers, &name),
        entry.map(|ip| ip.to_canonical())
    );
});
