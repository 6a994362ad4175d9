//! `application/x-www-form-urlencoded` bodies (token, introspection,
//! revocation, /authorize POST): parsing never panics, an accepted body has
//! no empty value, and its parameters re-encoded parse back to themselves.
#![no_main]

use std::collections::BTreeMap;

use certbound_server::form::Form;
use libfuzzer_sys::fuzz_target;

fn params(form: &Form) -> BTreeMap<String, String> {
    form.params()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(form) = Form::parse(data) else { return };
    let parsed = params(&form);
    let mut encoded = form_urlencoded::Serializer::new(String::new());
    for (name, value) in &parsed {
        assert!(!value.is_empty(), "empty value kept for {name:?}");
        assert_eq!(form.get(name), Some(value.as_str()));
        encoded.append_pair(name, value);
    }
    let encoded = encoded.finish();
    match Form::parse(encoded.as_bytes()) {
        Ok(again) => assert_eq!(params(&again), parsed, "re-encoded as {encoded:?}"),
        Err(e) => panic!("re-encoded body {encoded:?} refused: {}", e.description),
    }
});
