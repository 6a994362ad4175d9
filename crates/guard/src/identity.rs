//! A verified token's identity as HTTP header values, rendered once per
//! token: a proxy sends them on every request, and a cached token is
//! presented many times.

use std::fmt;
use std::sync::OnceLock;

use http::HeaderValue;

use crate::VerifiedToken;

/// The token's identity as header values. A value that is not visible ASCII
/// cannot travel in a header and is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityValues {
    /// `client_id`.
    pub client_id: Option<HeaderValue>,
    /// `sub`.
    pub subject: Option<HeaderValue>,
    /// The granted scopes, space-separated.
    pub scope: Option<HeaderValue>,
    /// `x5t#S256` of the bound certificate; `None` for an unbound token.
    pub thumbprint: Option<HeaderValue>,
}

impl IdentityValues {
    fn of(token: &VerifiedToken) -> Self {
        let value = |text: &str| HeaderValue::from_str(text).ok();
        Self {
            client_id: value(&token.client_id),
            subject: value(&token.subject),
            scope: value(&token.scopes.join(" ")),
            thumbprint: token
                .thumbprint
                .and_then(|t| value(t.to_base64url().as_str())),
        }
    }
}

/// Lazily rendered [`IdentityValues`]. It is derived from the token's other
/// fields, so it takes no part in comparing tokens, and a clone starts
/// unrendered: a token's fields are public, and a caller may change its copy.
#[derive(Default)]
pub(crate) struct RenderedIdentity(OnceLock<IdentityValues>);

impl Clone for RenderedIdentity {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl RenderedIdentity {
    pub(crate) fn get(&self, token: &VerifiedToken) -> &IdentityValues {
        self.0.get_or_init(|| IdentityValues::of(token))
    }
}

impl PartialEq for RenderedIdentity {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for RenderedIdentity {}

impl fmt::Debug for RenderedIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RenderedIdentity")
    }
}

#[cfg(test)]
mod tests {
    use certbound_core::Thumbprint;

    use super::*;

    fn token(subject: &str) -> VerifiedToken {
        VerifiedToken {
            client_id: "svc-a".into(),
            subject: subject.into(),
            scopes: vec!["read".into(), "write".into()],
            thumbprint: Some(Thumbprint::of_der(b"abc")),
            jti: "j".into(),
            audience: "a".into(),
            expires_at: 1,
            identity: RenderedIdentity::default(),
        }
    }

    #[test]
    fn renders_each_field_once_and_leaves_out_what_cannot_be_a_header() {
        let t = token("svc-a");
        let first = t.identity_values();
        assert_eq!(first.client_id, Some(HeaderValue::from_static("svc-a")));
        assert_eq!(first.subject, Some(HeaderValue::from_static("svc-a")));
        assert_eq!(first.scope, Some(HeaderValue::from_static("read write")));
        assert_eq!(
            first.thumbprint,
            Some(HeaderValue::from_static(
                "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
            ))
        );
        assert!(std::ptr::eq(first, t.identity_values()), "rendered once");

        let odd = token("line\nbreak");
        assert_eq!(odd.identity_values().subject, None);
        // The rendering is not part of the token's identity.
        let rendered = token("svc-a");
        let _ = rendered.identity_values();
        assert_eq!(rendered, token("svc-a"));
        // A copy whose fields change renders from its own fields.
        let mut copy = rendered.clone();
        copy.subject = "svc-b".into();
        assert_eq!(
            copy.identity_values().subject,
            Some(HeaderValue::from_static("svc-b"))
        );
    }
}
