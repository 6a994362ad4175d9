//! RFC 4518 string preparation for `caseIgnoreMatch`, the matching rule of
//! the directory string attributes found in certificate DNs.

use unicode_normalization::UnicodeNormalization;

/// Prepares a value for comparison; `None` if it holds a prohibited
/// character, in which case the matching rule evaluates to Undefined.
pub(super) fn prepare_case_ignore(value: &str) -> Option<String> {
    // Step 2 (map) with case folding, then step 3 (NFKC). Folding again after
    // normalisation catches characters NFKC decomposes into capitals.
    let mapped: String = value.chars().filter_map(map_char).collect();
    let folded: String = mapped
        .to_lowercase()
        .nfkc()
        .collect::<String>()
        .to_lowercase();
    // Step 4: prohibited output.
    if folded.chars().any(is_prohibited) {
        return None;
    }
    // Step 6: insignificant space handling. Leading and trailing spaces go,
    // inner runs compare as one space.
    let mut out = String::with_capacity(folded.len());
    for word in folded.split(' ').filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    Some(out)
}

fn map_char(c: char) -> Option<char> {
    match c {
        // Mapped to nothing: soft hyphen, joiners, variation selectors, ZWSP, BOM…
        '\u{00AD}'
        | '\u{034F}'
        | '\u{1806}'
        | '\u{180B}'..='\u{180D}'
        | '\u{200B}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}'
        | '\u{FFFC}' => None,
        // Controls that act as whitespace become a space.
        '\u{0009}'..='\u{000D}' | '\u{0085}' => Some(' '),
        // Other controls map to nothing.
        '\u{0000}'..='\u{0008}'
        | '\u{000E}'..='\u{001F}'
        | '\u{007F}'..='\u{0084}'
        | '\u{0086}'..='\u{009F}' => None,
        // Every space separator is a plain space.
        c if c != ' ' && is_space_separator(c) => Some(' '),
        c => Some(c),
    }
}

fn is_space_separator(c: char) -> bool {
    matches!(
        c,
        '\u{00A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

fn is_prohibited(c: char) -> bool {
    let cp = u32::from(c);
    // Private use, non-characters and the replacement character (RFC 4518 §2.4).
    matches!(cp, 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD | 0xFDD0..=0xFDEF | 0xFFFD)
        || (cp & 0xFFFE) == 0xFFFE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_space_and_compatibility_forms() {
        assert_eq!(
            prepare_case_ignore("  Client   A ").as_deref(),
            Some("client a")
        );
        assert_eq!(
            prepare_case_ignore("Client\u{00A0}A").as_deref(),
            Some("client a")
        );
        assert_eq!(prepare_case_ignore("ｆｕｌｌ").as_deref(), Some("full"));
        assert_eq!(prepare_case_ignore("so\u{00AD}ft").as_deref(), Some("soft"));
        assert_eq!(
            prepare_case_ignore("e\u{0301}").as_deref(),
            Some("\u{00e9}")
        );
        assert_eq!(prepare_case_ignore("bad\u{FFFD}"), None);
        assert_eq!(prepare_case_ignore("   ").as_deref(), Some(""));
    }
}
