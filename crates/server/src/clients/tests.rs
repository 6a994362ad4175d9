//! Registration rules: each refusal names its parameter and rule.

use super::*;
use ClientParameter as P;

fn tls(f: impl FnOnce(&mut ClientMetadata)) -> Result<RegisteredClient, InvalidClient> {
    let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
    f(&mut m);
    RegisteredClient::from_metadata("c", m, None)
}

/// [`tls`] for a client matched by the SAN DNS name `a`, then `f`.
fn tls_dns(f: impl FnOnce(&mut ClientMetadata)) -> Result<RegisteredClient, InvalidClient> {
    tls(|m| {
        m.tls_client_auth_san_dns = Some("a".into());
        f(m);
    })
}

fn refused(r: Result<RegisteredClient, InvalidClient>) -> (ClientParameter, ClientRule) {
    match r {
        Ok(c) => panic!("{} was accepted", c.client_id),
        Err(e) => (e.parameter, e.rule),
    }
}

#[test]
fn registration_rules() {
    assert!(tls(|m| m.tls_client_auth_san_dns = Some("a.example".into())).is_ok());
    let two = tls_dns(|m| m.tls_client_auth_subject_dn = Some("CN=a".into()));
    assert_eq!(
        refused(two.clone()),
        (
            P::SanDns,
            ClientRule::SeveralMatchers {
                given: vec![P::SubjectDn, P::SanDns]
            }
        )
    );
    // The message names both parameters, for the operator.
    assert_eq!(
        two.err().map(|e| e.to_string()).as_deref(),
        Some(
            "tls_client_auth takes exactly one matcher, got tls_client_auth_subject_dn and tls_client_auth_san_dns"
        )
    );
    assert_eq!(
        refused(tls(|_| {})),
        (P::TokenEndpointAuthMethod, ClientRule::MatcherMissing)
    );
    assert_eq!(
        refused(tls(|m| m.tls_client_auth_san_ip = Some("nope".into()))),
        (
            P::SanIp,
            ClientRule::NotAnIpAddress {
                given: "nope".into()
            }
        )
    );
    assert!(matches!(
        refused(tls(|m| m.tls_client_auth_subject_dn = Some("CN=a,,".into()))),
        (P::SubjectDn, ClientRule::DistinguishedName { .. })
    ));
    assert_eq!(
        refused(tls(|m| m.tls_client_auth_san_email = Some("  ".into()))),
        (P::SanEmail, ClientRule::Empty)
    );
    assert_eq!(
        refused(tls_dns(|m| {
            m.scope = "ok bad\"quote".into();
        })),
        (
            P::Scope,
            ClientRule::ScopeCharacters {
                token: "bad\"quote".into()
            }
        )
    );
    assert_eq!(
        refused(tls_dns(|m| {
            m.grant_types = vec!["password".into()];
        })),
        (
            P::GrantTypes,
            ClientRule::UnsupportedGrantType {
                given: "password".into()
            }
        )
    );
    assert_eq!(
        refused(tls_dns(|m| {
            m.tls_client_certificate_bound_access_tokens = false;
            m.require_certificate_bound_access_tokens = true;
        })),
        (
            P::RequireCertificateBoundAccessTokens,
            ClientRule::ContradictsUnboundTokens
        )
    );
    assert_eq!(
        refused(RegisteredClient::from_metadata(
            "c",
            ClientMetadata::new(AuthMethod::SelfSignedTlsClientAuth),
            None,
        )),
        (P::Jwks, ClientRule::JwksMissing)
    );
    let mut no_x5c = ClientMetadata::new(AuthMethod::SelfSignedTlsClientAuth);
    no_x5c.jwks = Some(serde_json::json!({"keys": [{"kty": "EC"}]}));
    assert_eq!(
        refused(RegisteredClient::from_metadata("c", no_x5c, None)),
        (P::Jwks, ClientRule::X5cMissing)
    );
    assert_eq!(
        refused(RegisteredClient::from_metadata(
            "c",
            ClientMetadata::new(AuthMethod::ClientSecretBasic),
            None,
        )),
        (
            P::ClientSecret,
            ClientRule::SecretMissing {
                method: AuthMethod::ClientSecretBasic
            }
        )
    );
    let mut dns_with_secret = ClientMetadata::new(AuthMethod::ClientSecretPost);
    dns_with_secret.tls_client_auth_san_dns = Some("a".into());
    assert_eq!(
        refused(RegisteredClient::from_metadata(
            "c",
            dns_with_secret,
            Some("h".into())
        )),
        (
            P::SanDns,
            ClientRule::MatcherWithoutTlsClientAuth {
                method: AuthMethod::ClientSecretPost
            }
        )
    );
    assert_eq!(
        refused(RegisteredClient::from_metadata(
            "has space",
            ClientMetadata::new(AuthMethod::ClientSecretBasic),
            Some("h".into())
        )),
        (P::ClientId, ClientRule::ClientIdSyntax)
    );
    let mut unknown = ClientMetadata::new(AuthMethod::TlsClientAuth);
    unknown.token_endpoint_auth_method = "private_key_jwt".into();
    assert_eq!(
        refused(RegisteredClient::from_metadata("c", unknown, None)),
        (
            P::TokenEndpointAuthMethod,
            ClientRule::UnsupportedAuthMethod {
                given: "private_key_jwt".into()
            }
        )
    );
    let mut public = ClientMetadata::new(AuthMethod::None);
    public.grant_types = vec!["authorization_code".into()];
    public.redirect_uris = vec!["https://app.example/cb".into()];
    assert!(RegisteredClient::from_metadata("c", public.clone(), None).is_ok());
    public.may_introspect = true;
    assert_eq!(
        refused(RegisteredClient::from_metadata("c", public, None)),
        (P::MayIntrospect, ClientRule::PublicMayIntrospect)
    );
    assert_eq!(
        parse_scope(" a b a ").unwrap_or_default(),
        vec!["a".to_owned(), "b".to_owned()]
    );
}

#[test]
fn stored_redirect_uris_that_no_longer_parse_are_ignored_not_fatal() {
    let mut m = ClientMetadata::new(AuthMethod::None);
    m.grant_types = vec!["authorization_code".into()];
    m.redirect_uris = vec![
        "https://app.example/caf\u{e9}".into(),
        "https://app.example/cb".into(),
        " https://app.example/space".into(),
    ];
    let stored = StoredClient {
        client_id: "legacy".into(),
        metadata: serde_json::to_string(&m).unwrap_or_default(),
        secret_hash: None,
        created_at: 0,
    };
    let client = RegisteredClient::from_stored(stored.clone());
    let client = client.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(client.metadata.redirect_uris, ["https://app.example/cb"]);
    assert_eq!(client.redirect_uris.len(), 1);
    // With none left, the code grant still needs one: that stays an error.
    m.redirect_uris.truncate(1);
    let stored = StoredClient {
        metadata: serde_json::to_string(&m).unwrap_or_default(),
        ..stored
    };
    assert!(matches!(
        RegisteredClient::from_stored(stored),
        Err(ServerError::CorruptClient { .. })
    ));
}
