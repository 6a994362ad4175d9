//! Any bytes → certificate identity: must return Ok or a typed error, never panic.
#![no_main]

use certbound_core::CertificateIdentity;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(id) = CertificateIdentity::from_der(data) {
        // Printing and re-parsing what we print must not panic either.
        let subject = id.subject.to_string();
        let _ = certbound_core::DistinguishedName::parse(&subject);
        let _ = id.thumbprint.to_string();
    }
});
