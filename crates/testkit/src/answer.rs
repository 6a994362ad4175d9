//! Checks on OAuth-style error answers (`{"error", "error_description"}`),
//! so every test states the expected refusal the same way.

use serde_json::Value;

/// Asserts `status` and the body's `error` code.
#[track_caller]
pub fn assert_error(status: u16, body: &Value, expected: (u16, &str)) {
    assert_status_and(status, body, "error", expected);
}

/// Asserts `status` and the body's `error_description`, whatever its code.
#[track_caller]
pub fn assert_error_description(status: u16, body: &Value, expected: (u16, &str)) {
    assert_status_and(status, body, "error_description", expected);
}

/// Asserts `status` and the string the body holds under `key`.
#[track_caller]
fn assert_status_and(status: u16, body: &Value, key: &str, expected: (u16, &str)) {
    assert_eq!(
        (status, body[key].as_str()),
        (expected.0, Some(expected.1)),
        "{body}"
    );
}

/// Asserts `status`, the body's `error` code and its `error_description`;
/// `context` (may be empty) says which case of a table failed.
#[track_caller]
pub fn assert_described_error(
    status: u16,
    body: &Value,
    expected: (u16, &str, &str),
    context: &str,
) {
    assert_eq!(
        (
            status,
            body["error"].as_str(),
            body["error_description"].as_str()
        ),
        (expected.0, Some(expected.1), Some(expected.2)),
        "{context}: {body}"
    );
}
