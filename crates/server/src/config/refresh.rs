//! `[refresh_tokens]`: lifetimes and rotation of refresh tokens issued by
//! the authorization code flow.

use serde::Deserialize;

/// `[refresh_tokens]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RefreshTokensConfig {
    /// Lifetime of one refresh token, seconds.
    pub ttl: u64,
    /// Absolute lifetime of the grant behind it (the "family"): no refresh,
    /// rotated or not, extends the user's approval past this many seconds.
    pub max_ttl: u64,
    /// After a rotation, how long a repeat of the old token gets the same
    /// response again (a lost response must not sign the user out); past
    /// it, a repeat revokes the whole family. 0 turns the window off.
    pub grace_seconds: u64,
    /// Rotate the refresh tokens of confidential clients too (public
    /// clients' are always rotated; FAPI 2.0 discourages rotating the others).
    pub rotate_confidential: bool,
    /// Public clients get a refresh token only when they redeem the code
    /// with a client certificate, which binds it (RFC 8705 §4); without one
    /// they get the access token alone. `false` issues unbound, rotating
    /// refresh tokens to public clients that present no certificate.
    pub bind_public_clients: bool,
}

impl Default for RefreshTokensConfig {
    fn default() -> Self {
        Self {
            ttl: 14 * 86_400,
            max_ttl: 90 * 86_400,
            grace_seconds: 30,
            rotate_confidential: false,
            bind_public_clients: true,
        }
    }
}

impl RefreshTokensConfig {
    /// The checks serde cannot make; the error is (key, what to write instead).
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        let err = |key: &str, m: &str| Err((format!("refresh_tokens.{key}"), m.to_owned()));
        if self.ttl == 0 {
            return err("ttl", "must be at least 1 second");
        }
        if self.max_ttl < self.ttl {
            return err("max_ttl", "must be at least refresh_tokens.ttl");
        }
        if self.max_ttl > 3650 * 86_400 {
            return err("max_ttl", "must be at most 10 years (315360000 seconds)");
        }
        if self.grace_seconds > 300 {
            return err(
                "grace_seconds",
                "must be at most 300: the window exists for a lost response, not for reuse",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut RefreshTokensConfig)) -> Result<(), (String, String)> {
        let mut c = RefreshTokensConfig::default();
        f(&mut c);
        c.validate()
    }

    #[test]
    fn defaults_pass_and_each_rule_names_its_key() {
        assert_eq!(with(|_| {}), Ok(()));
        assert_eq!(with(|c| c.grace_seconds = 0), Ok(()));
        let key = |r: Result<(), (String, String)>| r.err().map(|(k, _)| k);
        assert_eq!(
            key(with(|c| c.ttl = 0)).as_deref(),
            Some("refresh_tokens.ttl")
        );
        assert_eq!(
            key(with(|c| c.max_ttl = c.ttl - 1)).as_deref(),
            Some("refresh_tokens.max_ttl")
        );
        assert_eq!(
            key(with(|c| c.max_ttl = 3651 * 86_400)).as_deref(),
            Some("refresh_tokens.max_ttl")
        );
        assert_eq!(
            key(with(|c| c.grace_seconds = 301)).as_deref(),
            Some("refresh_tokens.grace_seconds")
        );
    }
}
