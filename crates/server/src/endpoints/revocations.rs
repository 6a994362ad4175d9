//! `/revocations` (certbound extension): the `jti`s of revoked, unexpired
//! JWT access tokens, so gateways that verify JWTs locally can refuse them
//! without introspecting every token.
//!
//! `POST` with client authentication exactly as `/introspect`, and only for
//! clients registered with `may_introspect`. Incremental: the answer carries
//! an opaque `cursor`; passing it back as `since` returns only revocations
//! committed after it (the store numbers them in commit order, so none is
//! missed). `complete: false` means more entries wait: call again at once.

use axum::Json;
use certbound_core::ErrorCode;
use http::StatusCode;
use serde_json::{Value, json};

use crate::clients::auth::ClientRequest;
use crate::{OAuthError, audit};

/// Most entries in one answer (and the default `limit`).
pub const MAX_PAGE: u32 = 1000;

/// Handles a revocation-list request.
pub async fn revocations(request: ClientRequest) -> Result<Json<Value>, OAuthError> {
    let request = request.authenticate_introspector().await?;
    let (server, form, caller) = (&*request.server, &request.form, &request.caller);
    if !caller.client.may_introspect {
        audit::revocation_list_read(&caller.client.client_id, 0, false);
        return Err(OAuthError {
            status: StatusCode::FORBIDDEN,
            code: ErrorCode::UnauthorizedClient,
            description:
                "this client may not read the revocation list; register it with --may-introspect"
                    .into(),
            retry_after: None,
        });
    }
    let since = match form.get("since") {
        None => 0,
        Some(c) => parse_cursor(c)?,
    };
    let limit = match form.get("limit") {
        None => MAX_PAGE,
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                OAuthError::invalid_request(format!("limit must be a number from 1 to {MAX_PAGE}"))
            })?,
    };
    // One more than asked tells whether the list goes on.
    let mut rows = server
        .store
        .revoked_jtis_after(since, crate::now(), limit + 1)
        .await?;
    let complete = rows.len() <= limit as usize;
    rows.truncate(limit as usize);
    let cursor = rows.last().map_or(since, |r| r.seq);
    audit::revocation_list_read(&caller.client.client_id, rows.len(), true);
    let revoked: Vec<Value> = rows
        .iter()
        .map(|r| json!({ "jti": r.jti, "exp": r.expires_at }))
        .collect();
    Ok(Json(json!({
        "revoked": revoked,
        "cursor": cursor.to_string(),
        "complete": complete,
    })))
}

/// A cursor is the decimal sequence number of the last entry seen; callers
/// treat it as opaque.
fn parse_cursor(cursor: &str) -> Result<i64, OAuthError> {
    cursor
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0 && cursor.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            OAuthError::invalid_request(
                "since must be a cursor returned by an earlier /revocations answer",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_plain_sequence_numbers() {
        assert_eq!(parse_cursor("0").ok(), Some(0));
        assert_eq!(parse_cursor("42").ok(), Some(42));
        for bad in ["-1", "+1", "1.0", "x", " 1", "99999999999999999999"] {
            assert!(parse_cursor(bad).is_err(), "{bad}");
        }
    }
}
