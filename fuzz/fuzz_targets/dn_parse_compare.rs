//! DN strings: parsing, printing, re-parsing and comparison never panic, and
//! a parsed DN compares the same as what its own printed form parses to.
#![no_main]

use certbound_core::DistinguishedName;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Split the input into two DNs to compare.
    let (a, b) = text.split_once('\u{1}').unwrap_or((text, ""));
    let (Ok(da), db) = (DistinguishedName::parse(a), DistinguishedName::parse(b)) else {
        return;
    };
    let printed = da.to_string();
    match DistinguishedName::parse(&printed) {
        // Values with characters RFC 4518 prohibits match nothing, not even themselves.
        Ok(again) => assert_eq!(
            again.matches(&da),
            da.matches(&da),
            "round trip changed {a:?} -> {printed:?}"
        ),
        Err(e) => panic!("printed DN {printed:?} does not parse: {e}"),
    }
    if let Ok(db) = db {
        assert_eq!(da.matches(&db), db.matches(&da), "comparison not symmetric");
    }
});
