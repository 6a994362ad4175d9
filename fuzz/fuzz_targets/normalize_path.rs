//! Request paths as the gateway routes on them: never a panic; an accepted
//! path is absolute, has no dot, empty or backslash segments (before or
//! after decoding what it kept encoded), no encoded slash, and normalising
//! it again changes nothing.
#![no_main]

use certbound_gateway::fuzzing::normalize_path;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(path) = normalize_path(raw) else {
        return;
    };
    assert!(path.starts_with('/'), "{raw:?} -> {path:?}");
    assert!(!path.contains('\\'), "{raw:?} -> {path:?}");
    assert!(
        !path.to_ascii_uppercase().contains("%2F") && !path.to_ascii_uppercase().contains("%5C"),
        "{raw:?} -> {path:?}"
    );
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, seg) in segments.iter().enumerate() {
        let head = seg.split(';').next().unwrap_or_default();
        let head = head.split("%3B").next().unwrap_or_default();
        assert!(
            head != "." && head != "..",
            "dot segment in {raw:?} -> {path:?}"
        );
        assert!(
            !seg.is_empty() || i + 1 == segments.len(),
            "empty segment in {raw:?} -> {path:?}"
        );
    }
    match normalize_path(&path) {
        Ok(again) => assert_eq!(again, path, "not idempotent: {raw:?}"),
        Err(why) => panic!("{raw:?} -> {path:?}, which is refused: {why}"),
    }
});
