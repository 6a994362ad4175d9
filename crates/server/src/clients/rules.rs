//! Why client metadata is refused, as data: the parameter and the rule it
//! breaks. `certbound clients add` names the flag from the parameter, tests
//! match on the rule, and the message is written in one place.

use std::fmt;

use certbound_core::{AuthMethod, RedirectUriFault};

/// A client metadata parameter, by its RFC 7591 / RFC 8705 name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientParameter {
    /// `client_id`.
    ClientId,
    /// `token_endpoint_auth_method`.
    TokenEndpointAuthMethod,
    /// `tls_client_auth_subject_dn`.
    SubjectDn,
    /// `tls_client_auth_san_dns`.
    SanDns,
    /// `tls_client_auth_san_uri`.
    SanUri,
    /// `tls_client_auth_san_ip`.
    SanIp,
    /// `tls_client_auth_san_email`.
    SanEmail,
    /// `jwks`.
    Jwks,
    /// `client_secret`.
    ClientSecret,
    /// `scope`.
    Scope,
    /// `grant_types`.
    GrantTypes,
    /// `require_certificate_bound_access_tokens`.
    RequireCertificateBoundAccessTokens,
    /// `redirect_uris`.
    RedirectUris,
    /// `client_name`.
    ClientName,
    /// `logo_uri`.
    LogoUri,
    /// `may_introspect` (certbound extension).
    MayIntrospect,
}

impl ClientParameter {
    /// The metadata member's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ClientId => "client_id",
            Self::TokenEndpointAuthMethod => "token_endpoint_auth_method",
            Self::SubjectDn => "tls_client_auth_subject_dn",
            Self::SanDns => "tls_client_auth_san_dns",
            Self::SanUri => "tls_client_auth_san_uri",
            Self::SanIp => "tls_client_auth_san_ip",
            Self::SanEmail => "tls_client_auth_san_email",
            Self::Jwks => "jwks",
            Self::ClientSecret => "client_secret",
            Self::Scope => "scope",
            Self::GrantTypes => "grant_types",
            Self::RequireCertificateBoundAccessTokens => "require_certificate_bound_access_tokens",
            Self::RedirectUris => "redirect_uris",
            Self::ClientName => "client_name",
            Self::LogoUri => "logo_uri",
            Self::MayIntrospect => "may_introspect",
        }
    }
}

impl fmt::Display for ClientParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rule a client's metadata breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientRule {
    /// RFC 6749 §2.2, narrowed: 1-255 printable ASCII characters, no spaces.
    ClientIdSyntax,
    /// Not a client authentication method this server implements.
    UnsupportedAuthMethod {
        /// The value given.
        given: String,
    },
    /// Blank after trimming.
    Empty,
    /// Not an RFC 4514 distinguished name.
    DistinguishedName {
        /// What the parser found.
        reason: String,
    },
    /// Not an IPv4 or IPv6 address.
    NotAnIpAddress {
        /// The value given.
        given: String,
    },
    /// `tls_client_auth` without any `tls_client_auth_*` matcher.
    MatcherMissing,
    /// `tls_client_auth` with more than one matcher.
    SeveralMatchers {
        /// Every matcher given, in metadata order.
        given: Vec<ClientParameter>,
    },
    /// A `tls_client_auth_*` matcher with another method.
    MatcherWithoutTlsClientAuth {
        /// The method registered.
        method: AuthMethod,
    },
    /// `self_signed_tls_client_auth` without `jwks`.
    JwksMissing,
    /// `jwks` is not `{"keys": [...]}`.
    JwksNotASet,
    /// An `x5c` entry is not base64 DER.
    X5cNotBase64,
    /// An `x5c` certificate does not parse.
    X5cCertificate {
        /// What the parser found.
        reason: String,
    },
    /// `jwks` holds no key with an `x5c` certificate.
    X5cMissing,
    /// A secret-based method registered without a secret.
    SecretMissing {
        /// The method.
        method: AuthMethod,
    },
    /// A certificate-based method registered with a secret.
    SecretNotAllowed {
        /// The method.
        method: AuthMethod,
    },
    /// A scope token with characters RFC 6749 §3.3 does not allow.
    ScopeCharacters {
        /// The offending token.
        token: String,
    },
    /// A grant type this server does not implement.
    UnsupportedGrantType {
        /// The value given.
        given: String,
    },
    /// A redirect URI that cannot be registered.
    RedirectUri {
        /// The value given.
        given: String,
        /// What is wrong with it.
        fault: RedirectUriFault,
    },
    /// `authorization_code` without any redirect URI.
    RedirectUriMissing,
    /// `refresh_token` without `authorization_code`, the only grant that issues one.
    RefreshWithoutCode,
    /// A public client (`none`) with `client_credentials`, which needs client authentication.
    PublicClientCredentials,
    /// Longer than the limit.
    TooLong {
        /// The limit, in bytes.
        max: usize,
    },
    /// `logo_uri` that is not an `https` URL.
    LogoNotHttps,
    /// A public client (`none`) with `may_introspect`: it could not authenticate to use it.
    PublicMayIntrospect,
    /// Requiring bound tokens while turning binding off.
    ContradictsUnboundTokens,
}

/// Client metadata refused: which parameter and which rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidClient {
    /// The parameter at fault.
    pub parameter: ClientParameter,
    /// The rule it breaks.
    pub rule: ClientRule,
}

impl InvalidClient {
    /// `parameter` breaks `rule`.
    pub fn new(parameter: ClientParameter, rule: ClientRule) -> Self {
        Self { parameter, rule }
    }
}

impl fmt::Display for InvalidClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.parameter;
        match &self.rule {
            ClientRule::ClientIdSyntax => {
                write!(f, "{p} must be 1-255 printable ASCII characters without spaces")
            }
            ClientRule::UnsupportedAuthMethod { given } => {
                let names: Vec<&str> = AuthMethod::ALL.iter().map(|m| m.as_str()).collect();
                write!(
                    f,
                    "unsupported auth method '{given}'; use one of {}",
                    names.join(", ")
                )
            }
            ClientRule::Empty => write!(f, "{p} is empty"),
            ClientRule::DistinguishedName { reason } => write!(f, "{p}: {reason}"),
            ClientRule::NotAnIpAddress { given } => {
                write!(f, "{p} '{given}' is not an IP address")
            }
            ClientRule::MatcherMissing => f.write_str(
                "tls_client_auth needs exactly one of tls_client_auth_subject_dn, _san_dns, _san_uri, _san_ip, _san_email",
            ),
            ClientRule::SeveralMatchers { given } => {
                let names: Vec<&str> = given.iter().map(|p| p.as_str()).collect();
                write!(
                    f,
                    "tls_client_auth takes exactly one matcher, got {}",
                    names.join(" and ")
                )
            }
            ClientRule::MatcherWithoutTlsClientAuth { method } => write!(
                f,
                "tls_client_auth_* parameters apply only to tls_client_auth, not {method}"
            ),
            ClientRule::JwksMissing => f.write_str(
                "self_signed_tls_client_auth needs jwks with the client's certificate in x5c",
            ),
            ClientRule::JwksNotASet => f.write_str("jwks must be a JWK Set: {\"keys\": [...]}"),
            ClientRule::X5cNotBase64 => {
                f.write_str("jwks x5c entries must be base64 DER certificates")
            }
            ClientRule::X5cCertificate { reason } => write!(f, "jwks x5c certificate: {reason}"),
            ClientRule::X5cMissing => f.write_str(
                "self_signed_tls_client_auth needs at least one certificate in jwks x5c",
            ),
            ClientRule::SecretMissing { method } => write!(f, "{method} needs a client secret"),
            ClientRule::SecretNotAllowed { method } => {
                write!(f, "{method} clients have no client secret")
            }
            ClientRule::ScopeCharacters { token } => write!(
                f,
                "scope '{}' contains characters RFC 6749 §3.3 does not allow",
                token.escape_default()
            ),
            ClientRule::UnsupportedGrantType { given } => write!(
                f,
                "grant type '{}' is not supported; use authorization_code, refresh_token or client_credentials",
                given.escape_default()
            ),
            ClientRule::RedirectUri { given, fault } => {
                write!(f, "redirect URI '{}' {fault}", given.escape_default())
            }
            ClientRule::RedirectUriMissing => f.write_str(
                "the authorization_code grant needs at least one redirect URI (--redirect-uri)",
            ),
            ClientRule::RefreshWithoutCode => f.write_str(
                "the refresh_token grant needs the authorization_code grant, which issues refresh tokens",
            ),
            ClientRule::PublicClientCredentials => f.write_str(
                "a public client (token_endpoint_auth_method none) cannot use client_credentials",
            ),
            ClientRule::TooLong { max } => write!(f, "{p} is longer than {max} bytes"),
            ClientRule::LogoNotHttps => write!(f, "{p} must be an https URL"),
            ClientRule::PublicMayIntrospect => f.write_str(
                "a public client (token_endpoint_auth_method none) cannot introspect or read the revocation list",
            ),
            ClientRule::ContradictsUnboundTokens => f.write_str(
                "require_certificate_bound_access_tokens contradicts tls_client_certificate_bound_access_tokens = false",
            ),
        }
    }
}

impl std::error::Error for InvalidClient {}
