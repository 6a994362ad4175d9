//! Client records are cached between requests; a change made by another
//! process (as `certbound clients add/remove` does) reaches a running server
//! within `clients.cache_seconds`, on both storage engines.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use certbound_core::AuthMethod;
use certbound_server::clients::{ClientMetadata, RegisteredClient};
use certbound_store::{SqlStore, Store};
use certbound_testkit::TestIdentity;
use common::{Backend, TestServer, on_both_backends};

fn metadata(dn: &str) -> ClientMetadata {
    let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
    m.tls_client_auth_subject_dn = Some(dn.into());
    m
}

async fn token_status(server: &TestServer, identity: &TestIdentity) -> (u16, Option<String>) {
    let (status, json) = server
        .post(
            "/token",
            Some(identity),
            b"grant_type=client_credentials&client_id=svc",
            &[],
        )
        .await;
    (status, json["error"].as_str().map(str::to_owned))
}

/// Polls until the token endpoint answers `want` for `identity`; bounded so a
/// cache that never notices the change fails the test instead of hanging.
async fn until_status(
    server: &TestServer,
    identity: &TestIdentity,
    want: (u16, Option<&str>),
) -> Duration {
    let start = Instant::now();
    loop {
        let got = token_status(server, identity).await;
        if (got.0, got.1.as_deref()) == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "still {got:?} instead of {want:?} 15 s after the change"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn changes_reach_the_cache(backend: Backend) {
    let server = TestServer::start_with(backend, "[clients]\ncache_seconds = 1\n").await;
    server.register("svc", metadata("CN=alice"), None).await;
    let alice = server.pki.simple_client("alice");
    let bob = server.pki.simple_client("bob");
    assert_eq!(token_status(&server, &alice).await, (200, None));
    assert_eq!(server.running().server.clients.len(), 1, "svc is cached");

    // Another process (its own pool, as the CLI has) removes svc and
    // registers it again, now for bob's certificate.
    let other = SqlStore::connect(&server.store_url)
        .await
        .expect("second store");
    assert!(other.delete_client("svc").await.expect("delete"));
    until_status(&server, &alice, (401, Some("invalid_client"))).await;
    let again = RegisteredClient::from_metadata("svc", metadata("CN=bob"), None).expect("metadata");
    other
        .create_client(&again.to_stored(0).expect("stored"))
        .await
        .expect("re-create");
    until_status(&server, &bob, (200, None)).await;
    assert_eq!(
        token_status(&server, &alice).await,
        (401, Some("invalid_client".to_owned())),
        "the old registration is gone from the cache"
    );
    other.close().await;
}
on_both_backends!(
    changes_by_another_process_reach_the_cache,
    super::changes_reach_the_cache
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_cache_seconds_zero_every_request_reads_the_store() {
    let server = TestServer::start_with(Backend::Sqlite, "[clients]\ncache_seconds = 0\n").await;
    server.register("svc", metadata("CN=alice"), None).await;
    let alice = server.pki.simple_client("alice");
    assert_eq!(token_status(&server, &alice).await, (200, None));
    assert!(server.running().server.clients.is_empty());
    let store = &server.running().server.store;
    assert!(store.delete_client("svc").await.expect("delete"));
    // No poll to wait for: the very next request sees it.
    assert_eq!(
        token_status(&server, &alice).await,
        (401, Some("invalid_client".to_owned()))
    );
}
