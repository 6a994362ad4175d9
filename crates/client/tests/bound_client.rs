//! `CertboundClient` against a real certbound authorization server and an
//! mTLS resource that checks the token's certificate binding: caching,
//! refresh before expiry, single flight, requests over the bound identity,
//! one re-fetch on `invalid_token`, and typed errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use certbound_client::{
    CertboundClient, ClientError, ManualClock, Method, RefreshPolicy, StatusCode, TlsSettings,
    header,
};
use certbound_testkit::TestIdentity;
use common::TestAs;
use common::resource::{Resource, jwt_claims};
use serde_json::Value;

async fn token(client: &CertboundClient) -> String {
    client.token().await.expect("token").secret().to_owned()
}

async fn json(response: certbound_client::Response) -> Value {
    (response.json::<Value>().await).expect("response JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_is_bound_cached_and_fetched_at_the_mtls_alias() {
    let auth = TestAs::start(300).await;
    let alice = auth.register("alice").await;
    let client = auth
        .builder("alice", &alice)
        .scope("read")
        .build()
        .expect("build");

    let first = client.token().await.expect("token");
    let claims = jwt_claims(first.secret());
    assert_eq!(
        claims["cnf"]["x5t#S256"],
        Value::from(alice.thumbprint().to_string())
    );
    assert_eq!(claims["scope"], "read");
    assert_eq!(first.scope(), Some("read"));
    assert!(
        !format!("{first:?}").contains(first.secret()),
        "Debug redacts"
    );

    assert_eq!(
        token(&client).await,
        first.secret(),
        "second call is cached"
    );
    assert_eq!(auth.token_requests(), 1);
    assert_eq!(
        auth.public_token_requests(),
        0,
        "only the mTLS alias is used"
    );
    assert_eq!(
        client.token_endpoint().await.expect("endpoint"),
        format!("{}/token", auth.mtls_url)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refreshes_before_expiry_and_concurrent_callers_share_one_fetch() {
    let auth = TestAs::start(300).await;
    let alice = auth.register("alice").await;
    let clock = Arc::new(ManualClock::new());
    let client = auth
        .builder("alice", &alice)
        .clock(clock.clone())
        .build()
        .expect("build");

    // 20 callers at once on a cold client: one discovery, one token request.
    let all = concurrently(&client, 20).await;
    assert_eq!(auth.token_requests(), 1, "single flight");
    assert!(
        all.iter().all(|t| *t == all[0]),
        "all callers got one token"
    );
    let first = all[0].clone();

    // 300 s lifetime, margin min(30 s, 10%) = 30 s: still cached at 269 s.
    clock.advance(Duration::from_secs(269));
    assert_eq!(token(&client).await, first);
    assert_eq!(auth.token_requests(), 1);

    // Inside the margin: one refresh shared by 20 concurrent callers.
    clock.advance(Duration::from_secs(2));
    let all = concurrently(&client, 20).await;
    assert_eq!(auth.token_requests(), 2, "single flight on refresh");
    assert!(all.iter().all(|t| *t == all[0]));
    assert_ne!(all[0], first, "a new token after refresh");
    assert_eq!(token(&client).await, all[0], "the new token is cached");
    assert_eq!(auth.token_requests(), 2);
}

/// `n` tasks calling `token()` together; their tokens.
async fn concurrently(client: &CertboundClient, n: usize) -> Vec<String> {
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let client = client.clone();
        let barrier = Arc::clone(&barrier);
        tasks.spawn(async move {
            barrier.wait().await;
            client.token().await.map(|t| t.secret().to_owned())
        });
    }
    let mut out = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        out.push(joined.expect("join").expect("token"));
    }
    assert_eq!(out.len(), n);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_short_lived_token_is_replaced_after_it_expires() {
    // A real 2 s lifetime: margin min(30 s, 0.2 s); no clock tricks.
    let auth = TestAs::start(2).await;
    let alice = auth.register("alice").await;
    let client = auth.builder("alice", &alice).build().expect("build");
    let first = client.token().await.expect("token");
    let refresh_at = first.refresh_at().unwrap_or_else(std::time::Instant::now);
    let wait = refresh_at.saturating_duration_since(std::time::Instant::now());
    assert!(wait <= Duration::from_secs(2), "{wait:?}");
    tokio::time::sleep(wait + Duration::from_millis(50)).await;
    assert_ne!(token(&client).await, first.secret());
    assert_eq!(auth.token_requests(), 2);
}

/// An AS with the client alice (300 s tokens), alice's certificate, an
/// mTLS resource trusting the AS's PKI, and alice's client.
async fn alice_and_a_resource() -> (TestAs, TestIdentity, Resource, CertboundClient) {
    let auth = TestAs::start(300).await;
    let alice = auth.register("alice").await;
    let resource = Resource::start(&auth.pki).await;
    let client = auth.builder("alice", &alice).build().expect("build");
    (auth, alice, resource, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_carry_the_bound_token_over_the_same_identity() {
    let (auth, alice, resource, client) = alice_and_a_resource().await;

    let response = client
        .get(format!("{}/things", resource.url))
        .header(
            header::HeaderName::from_static("x-trace"),
            header::HeaderValue::from_static("t1"),
        )
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::OK);
    let body = json(response).await;
    assert_eq!(body["client_id"], "alice");
    assert_eq!(
        body["x5t#S256"],
        Value::from(alice.thumbprint().to_string())
    );
    assert_eq!(body["headers"]["x-trace"], "t1");

    let response = client
        .request(Method::PUT, format!("{}/things/1", resource.url))
        .body("payload")
        .send()
        .await
        .expect("PUT");
    assert_eq!(response.status(), StatusCode::OK);
    let body = json(response).await;
    assert_eq!(
        (body["method"].clone(), body["body"].clone()),
        ("PUT".into(), "payload".into())
    );
    assert_eq!(
        auth.token_requests(),
        1,
        "both requests used the cached token"
    );

    // The same token from a different certificate is refused: the binding is real.
    let mallory = auth.pki.simple_client("mallory");
    let other = certbound_client::OAuthClient::discover(&auth.issuer, &auth.tls(&mallory))
        .await
        .expect("discover");
    let stolen = token(&client).await;
    let response = other
        .http()
        .get(format!("{}/things", resource.url))
        .bearer_auth(&stolen)
        .send()
        .await
        .expect("replay");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalid_token_triggers_exactly_one_refetch_and_retry() {
    let (auth, _, resource, client) = alice_and_a_resource().await;
    let url = format!("{}/things", resource.url);

    // The resource revokes the cached token: one new token, one replayed POST.
    let revoked = token(&client).await;
    resource.state.revoke(&revoked);
    let response = client.post(&url).body("once").send().await.expect("POST");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(auth.token_requests(), 2);
    let seen = resource.state.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].token.as_deref(), Some(revoked.as_str()));
    assert_ne!(seen[1].token.as_deref(), Some(revoked.as_str()));
    assert!(seen.iter().all(|s| s.method == "POST" && s.body == b"once"));

    // A resource that refuses every token: one retry, then its 401 is returned.
    resource.state.reject_all();
    let response = client.get(&url).send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(auth.token_requests(), 3, "exactly one re-fetch");
    assert_eq!(resource.state.seen().len(), 4, "exactly one retry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn other_refusals_are_returned_without_a_refetch() {
    let (auth, _, resource, client) = alice_and_a_resource().await;
    let response = client
        .get(format!("{}/forbidden", resource.url))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(auth.token_requests(), 1);
    assert_eq!(resource.state.seen().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_early_refresh_keeps_the_unexpired_token() {
    let mut auth = TestAs::start(300).await;
    let alice = auth.register("alice").await;
    let clock = Arc::new(ManualClock::new());
    let client = auth
        .builder("alice", &alice)
        .clock(clock.clone())
        .refresh_policy(RefreshPolicy {
            max_margin: Duration::from_secs(200),
            fraction: 0.5,
            ..RefreshPolicy::default()
        })
        .timeout(Duration::from_secs(5))
        .build()
        .expect("build");
    let first = token(&client).await;
    auth.stop().await;
    // Margin min(200 s, 50% of 300 s) = 150 s: due for refresh at 160 s but
    // not expired; the AS is down, so the old token keeps serving.
    clock.advance(Duration::from_secs(160));
    assert_eq!(token(&client).await, first);
    // Expired: the failure surfaces as a typed error.
    clock.advance(Duration::from_secs(150));
    match client.token().await {
        Err(ClientError::Transport { url, .. }) => assert!(url.ends_with("/token"), "{url}"),
        other => panic!("expected a transport error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unreachable_as_unknown_client_and_missing_identity_are_typed_errors() {
    let auth = TestAs::start(300).await;
    let alice = auth.register("alice").await;

    // Nothing listens on a port just released.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let gone = format!("https://localhost:{port}");
    let client = CertboundClient::builder(&gone, "alice", auth.tls(&alice))
        .build()
        .expect("build");
    match client.get(format!("{gone}/x")).send().await {
        Err(e @ ClientError::Transport { .. }) => {
            assert!(e.to_string().contains(&gone), "{e}");
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
    // Concurrent callers of a failing fetch all get the error, nobody panics.
    let (a, b) = tokio::join!(client.token(), client.token());
    assert!(matches!(a, Err(ClientError::Transport { .. })));
    assert!(matches!(b, Err(ClientError::Transport { .. })));

    let bob = auth.pki.simple_client("bob");
    let client = auth.builder("bob", &bob).build().expect("build");
    match client.token().await {
        Err(e @ ClientError::TokenRefused { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("invalid_client") && text.contains("'bob'"),
                "{text}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    let anonymous =
        TlsSettings::from_pem_files(Some(&auth.pki.ca_path()), None).expect("TLS settings");
    assert!(matches!(
        CertboundClient::builder(&auth.issuer, "alice", anonymous).build(),
        Err(ClientError::NoIdentity)
    ));

    let client = auth.builder("alice", &alice).build().expect("build");
    assert!(matches!(
        client.get("http://localhost:1/plain").send().await,
        Err(ClientError::InvalidRequest { .. })
    ));
    assert_eq!(auth.token_requests(), 1, "only bob's refused request");
}
