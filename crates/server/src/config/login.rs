//! `[login]`: who signs people in at `/authorize`, and the failed-login backoff.

use certbound_tls::check_public_url;
use serde::Deserialize;

/// `[login]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginConfig {
    /// A login app that signs people in instead of the built-in pages; the
    /// browser is sent there with `?challenge=…`.
    pub url: Option<String>,
    /// The scope a client needs to drive interactions through `/admin/interactions`.
    pub admin_scope: String,
    /// Failed sign-ins (per username, and per address) that start the backoff.
    pub max_failures: u32,
    /// The window, in seconds, in which failed sign-ins are counted.
    pub failure_window_seconds: u64,
}

impl Default for LoginConfig {
    fn default() -> Self {
        Self {
            url: None,
            admin_scope: "certbound:admin".into(),
            max_failures: 5,
            failure_window_seconds: 900,
        }
    }
}

impl LoginConfig {
    /// The checks serde cannot make; the error is (key, what to write instead).
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        let err = |key: &str, message: String| (key.to_owned(), message);
        if let Some(url) = &self.url {
            // No query of its own: certbound appends `?challenge=…`.
            check_public_url(url).map_err(|m| err("login.url", m))?;
        }
        if crate::clients::parse_scope(&self.admin_scope).map_or(true, |s| s.len() != 1) {
            return Err(err(
                "login.admin_scope",
                "must be one scope token, e.g. \"certbound:admin\"".into(),
            ));
        }
        if self.max_failures == 0 || self.failure_window_seconds == 0 {
            return Err(err(
                "login.max_failures",
                "max_failures and failure_window_seconds must be at least 1".into(),
            ));
        }
        Ok(())
    }
}
