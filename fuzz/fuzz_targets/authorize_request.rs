//! /authorize requests (RFC 6749 §4.1.1, RFC 7636, Form Post), as a query
//! string or form body, validated against an authorization server with a
//! few registered clients. Never a panic; an error goes back to a client
//! only at one of its registered redirect URIs; an accepted request names
//! a registered redirect URI, a well-formed S256 challenge and only scopes
//! the client may ask for.
#![no_main]

use std::path::Path;
use std::sync::{Arc, OnceLock};

use certbound_core::{AuthMethod, CodeChallenge};
use certbound_fuzz::runtime;
use certbound_server::authorize::error::AuthorizeError;
use certbound_server::authorize::request::{MAX_PARAMETER_BYTES, OFFLINE_ACCESS, validate};
use certbound_server::clients::ClientMetadata;
use certbound_server::kek::{KEK_ENV, KeyEncryptionKey};
use certbound_server::{AuthorizationServer, Config};
use libfuzzer_sys::fuzz_target;

/// The clients: `(id, redirect URIs, grant types)`, all with scopes `read write`.
const CLIENTS: [(&str, &[&str], &[&str]); 3] = [
    (
        "app",
        &[
            "https://app.example/cb",
            "https://app.example/cb2?x=1",
            "http://127.0.0.1:5173/cb",
        ],
        &["authorization_code", "refresh_token"],
    ),
    (
        "one",
        &["com.example.app:/oauth2redirect"],
        &["authorization_code"],
    ),
    (
        "machine",
        &["https://m.example/cb"],
        &["client_credentials"],
    ),
];

fn server() -> &'static Arc<AuthorizationServer> {
    static SERVER: OnceLock<Arc<AuthorizationServer>> = OnceLock::new();
    SERVER.get_or_init(|| {
        runtime().block_on(async {
            let toml = "[storage]\nurl = \"sqlite::memory:\"\n\
                [listeners.proxy]\naddr = \"127.0.0.1:0\"\nurl = \"https://as.example\"\n\
                trusted_proxies = [\"127.0.0.2\"]\ncertificate_header = \"rfc9440\"\n";
            // The signing key is sealed under a KEK made for this process.
            let (_, kek) = KeyEncryptionKey::generate().expect("a key-encryption key");
            let env = std::iter::once((KEK_ENV.to_owned(), kek));
            let config = Config::from_toml(toml, Path::new("fuzz.toml"), env)
                .expect("the fuzz configuration");
            let running = certbound_server::start(config)
                .await
                .expect("an authorization server");
            for (id, uris, grants) in CLIENTS {
                // A public client, except the one without the code grant:
                // `client_credentials` needs client authentication.
                let mut m = if grants.contains(&"authorization_code") {
                    ClientMetadata::new(AuthMethod::None)
                } else {
                    let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
                    m.tls_client_auth_subject_dn = Some(format!("CN={id}"));
                    m
                };
                m.redirect_uris = uris.iter().map(|s| (*s).to_owned()).collect();
                m.grant_types = grants.iter().map(|s| (*s).to_owned()).collect();
                m.scope = "read write".into();
                certbound_server::register_client(running.server.store.as_ref(), id, m, None)
                    .await
                    .expect("a client");
            }
            let server = Arc::clone(&running.server);
            // Kept running (its listener idle) for the life of the process.
            std::mem::forget(running);
            server
        })
    })
}

fn registered(client_id: &str, redirect_uri: &str) -> bool {
    CLIENTS
        .iter()
        .any(|(id, uris, _)| *id == client_id && uris.contains(&redirect_uri))
}

fuzz_target!(|data: &[u8]| {
    let server = server();
    let client_id = || {
        certbound_server::form::Form::parse(data)
            .ok()
            .and_then(|f| f.get("client_id").map(str::to_owned))
            .unwrap_or_default()
    };
    match runtime().block_on(validate(server, data)) {
        Ok((request, client)) => {
            assert_eq!(request.client_id, client.client_id);
            assert_eq!(request.client_id, client_id());
            assert!(registered(&request.client_id, &request.target.redirect_uri));
            assert!(client.grant_types.iter().any(|g| g == "authorization_code"));
            assert!(CodeChallenge::from_stored(&request.code_challenge).is_ok());
            for s in &request.scopes {
                assert!(
                    client.scopes.contains(s) || s == OFFLINE_ACCESS,
                    "scope {s:?} granted to {}",
                    client.client_id
                );
            }
            for value in [&request.target.state, &request.nonce]
                .into_iter()
                .flatten()
            {
                assert!(!value.is_empty() && value.len() <= MAX_PARAMETER_BYTES);
            }
        }
        Err(AuthorizeError::Redirect { target, .. }) => {
            assert!(
                registered(&client_id(), &target.redirect_uri),
                "an error sent to {:?}",
                target.redirect_uri
            );
        }
        Err(AuthorizeError::Page(_)) => {}
    }
});
