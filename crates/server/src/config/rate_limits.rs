//! `[rate_limits]`: token buckets per source address and per client at the
//! endpoints where callers authenticate (see `crate::rate_limit`).

use serde::Deserialize;

/// `[rate_limits]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitsConfig {
    /// `false` admits everything (for a deployment that limits in front).
    pub enabled: bool,
    /// Requests per second one source address may sustain.
    pub address_per_second: u32,
    /// Requests one source address may send at once.
    pub address_burst: u32,
    /// Requests per second one authenticated client may sustain.
    pub client_per_second: u32,
    /// Requests one authenticated client may send at once.
    pub client_burst: u32,
    /// What a failed client authentication or sign-in costs the address, in requests.
    pub failure_cost: u32,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            address_per_second: 100,
            address_burst: 1000,
            client_per_second: 100,
            client_burst: 1000,
            failure_cost: 20,
        }
    }
}

impl RateLimitsConfig {
    /// The checks serde cannot make; the error is (key, what to write instead).
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        for (key, value) in [
            ("address_per_second", self.address_per_second),
            ("address_burst", self.address_burst),
            ("client_per_second", self.client_per_second),
            ("client_burst", self.client_burst),
            ("failure_cost", self.failure_cost),
        ] {
            if value == 0 {
                return Err((
                    format!("rate_limits.{key}"),
                    "must be at least 1; set rate_limits.enabled = false to turn the limits off"
                        .into(),
                ));
            }
        }
        if self.failure_cost > self.address_burst {
            return Err((
                "rate_limits.failure_cost".into(),
                "must not exceed rate_limits.address_burst, or a single failure could never be admitted"
                    .into(),
            ));
        }
        Ok(())
    }
}
