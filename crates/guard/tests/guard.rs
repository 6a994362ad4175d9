//! The guard against a real certbound authorization server, protecting a
//! real mTLS resource: binding, scopes, expiry, foreign issuers, key
//! rotation without restart, the AS going down, and opaque tokens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use certbound_core::ManualClock;
use certbound_guard::{
    BoundClient, Discovery, Guard, GuardError, GuardLayer, GuardOptions, IntrospectionOptions,
    RevocationOptions,
};
use certbound_server::RunningServer;
use certbound_server::clients::TokenFormat;
use certbound_testkit::bearer;
use certbound_testkit::server::rotate_key;
use certbound_testkit::server::{AsFixture, jwt_client, serve_mtls};
use certbound_testkit::server::{
    curl_with_challenge as curl, register_introspecting_client, register_tls_client as register,
    start_as, token,
};
use certbound_testkit::{TestIdentity, TestPki};
use certbound_testkit::{assert_described_error, assert_error, assert_error_description};
use certbound_tls::TlsSettings;
use serde_json::{Value, json};

async fn whoami(BoundClient(token): BoundClient) -> axum::Json<Value> {
    axum::Json(json!({
        "client_id": token.client_id,
        "scopes": token.scopes,
        "x5t#S256": token.thumbprint.map(|t| t.to_string()),
    }))
}

/// A resource server on mTLS with `/read` (scope read) and `/admin` (scope admin).
async fn start_resource(pki: &TestPki, guard: Guard) -> String {
    let app = Router::new()
        .route(
            "/read",
            get(whoami).route_layer(GuardLayer::new(guard.clone()).require_scopes(["read"])),
        )
        .route(
            "/admin",
            get(whoami).route_layer(GuardLayer::new(guard).require_scopes(["admin"])),
        );
    let port = serve_mtls(pki, app, std::future::pending()).await;
    format!("https://localhost:{port}")
}

fn options(issuer: &str) -> GuardOptions {
    // The AS's default audience is its issuer.
    let mut o = GuardOptions::new(issuer, issuer);
    o.leeway = Duration::ZERO;
    o.jwks_min_refetch = Duration::from_millis(200);
    o
}

/// [`options`] with a clock the test moves instead of sleeping.
fn options_with_clock(issuer: &str) -> (GuardOptions, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new());
    let mut o = options(issuer);
    o.clock = Arc::clone(&clock) as _;
    (o, clock)
}

/// A guard for `issuer` trusting the PKI's CA, on a clock the test moves.
async fn clocked_guard(pki: &TestPki, issuer: &str) -> (Guard, Arc<ManualClock>) {
    let tls = TlsSettings::from_pem_files(Some(&pki.ca_path()), None).expect("tls");
    let (o, clock) = options_with_clock(issuer);
    (Guard::discover(o, &tls).await.expect("discover"), clock)
}

/// An `at+jwt` signer with a fresh ES256 key (created at `now`) that no
/// AS publishes.
fn stranger_signer() -> certbound_jose::JwsSigner {
    let key = certbound_jose::generate(jsonwebtoken::Algorithm::ES256).expect("key");
    certbound_jose::JwsSigner::from_pkcs8_pem(
        jsonwebtoken::Algorithm::ES256,
        key.private_key_pem.as_bytes(),
        key.kid.clone(),
    )
    .and_then(|s| s.with_typ("at+jwt"))
    .expect("signer")
}

/// An AS started with `extra` TOML (its PKI, the AS, the directory that
/// must outlive it), in which client `a` (scope read, JWT tokens) is
/// registered; `a`'s certificate; and, behind a guard for that AS on a
/// clock the test moves, a resource (see [`start_resource`]).
async fn guarded(
    extra: &str,
) -> (
    TestPki,
    RunningServer,
    tempfile::TempDir,
    TestIdentity,
    Arc<ManualClock>,
    String,
) {
    let AsFixture { pki, dir, server } = AsFixture::start(extra).await;
    let a = jwt_client(&server, &pki, "a", "read").await;
    let (guard, clock) = clocked_guard(&pki, &server.issuer).await;
    let rs = start_resource(&pki, guard).await;
    (pki, server, dir, a, clock, rs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_scopes_expiry_and_foreign_tokens() {
    let (pki, server, _dir, a, clock, rs) = guarded("[tokens]\naccess_token_ttl = 1\n").await;
    let b = jwt_client(&server, &pki, "b", "read").await;
    let read = format!("{rs}/read");

    let ta = token(&pki, &server, &a, "a").await;
    let (status, _, body) = curl(&pki, Some(&a), &["-H", &bearer(&ta), &read]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["client_id"], "a");
    assert_eq!(body["x5t#S256"], Value::from(a.thumbprint().to_string()));

    // The token is now in the verified cache; the rest of the header is
    // still read as before: any case of the scheme and extra blanks pass,
    // another scheme is no token, trailing bytes make it malformed, two
    // headers are refused.
    let a_sends = async |header: String| curl(&pki, Some(&a), &["-H", &header, &read]).await;
    let (status, _, body) = a_sends(format!("Authorization:  bEaReR   {ta}\t")).await;
    assert_eq!(status, 200, "{body}");
    let (status, challenge, _) = a_sends(format!("Authorization: Basic {ta}")).await;
    assert_eq!(
        (status, challenge.as_str()),
        (401, "bearer realm=\"certbound\"")
    );
    let (status, _, body) = a_sends(format!("Authorization: Bearer {ta},x")).await;
    assert_error_description(status, &body, (401, "malformed Bearer token"));
    let (status, _, body) = curl(
        &pki,
        Some(&a),
        &["-H", &bearer(&ta), "-H", &bearer(&ta), &read],
    )
    .await;
    assert_error_description(status, &body, (400, "more than one Authorization header"));

    // Replayed with another client's certificate, or with none: 401 invalid_token.
    for who in [Some(&b), None] {
        let (status, challenge, body) = curl(&pki, who, &["-H", &bearer(&ta), &read]).await;
        assert_eq!(status, 401, "{body}");
        assert!(
            challenge.starts_with("bearer realm=\"certbound\", error=\"invalid_token\""),
            "{challenge}"
        );
        assert_eq!(body["error"], "invalid_token");
    }
    // No token: a bare challenge. Token in the query: 400.
    let (status, challenge, _) = curl(&pki, Some(&a), &[&read]).await;
    assert_eq!(
        (status, challenge.as_str()),
        (401, "bearer realm=\"certbound\"")
    );
    let (status, _, body) = curl(&pki, Some(&a), &[&format!("{read}?access_token={ta}")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // Missing scope: 403 insufficient_scope naming it.
    let (status, challenge, body) = curl(
        &pki,
        Some(&a),
        &["-H", &bearer(&ta), &format!("{rs}/admin")],
    )
    .await;
    assert_error(status, &body, (403, "insufficient_scope"));
    assert!(challenge.contains("scope=\"admin\""), "{challenge}");

    // A token from another authorization server (other issuer, other keys): 401.
    let other_dir = tempfile::tempdir().expect("tempdir");
    let other = start_as(&pki, other_dir.path(), "").await;
    register(&other, "a", "read", TokenFormat::Jwt).await;
    let foreign = token(&pki, &other, &a, "a").await;
    let (status, _, body) = curl(&pki, Some(&a), &["-H", &bearer(&foreign), &read]).await;
    assert_error(status, &body, (401, "invalid_token"));

    // Expired (ttl 1 s, no leeway): 401. The guard's clock stood still
    // since before the token was issued; moved well past its exp.
    clock.advance(Duration::from_secs(5));
    let (status, _, body) = curl(&pki, Some(&a), &["-H", &bearer(&ta), &read]).await;
    assert_error_description(status, &body, (401, "the token has expired"));
    other.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_without_restart_and_as_outage_with_cached_keys() {
    let (pki, server, _dir, a, clock, rs) = guarded("").await;
    let read = format!("{rs}/read");
    // What the resource answers a's call to /read with `token`.
    let a_reads = async |token: &str| curl(&pki, Some(&a), &["-H", &bearer(token), &read]).await;
    let before = token(&pki, &server, &a, "a").await;
    assert_eq!(a_reads(&before).await.0, 200);
    rotate_key(&server).await;
    // The guard has the old JWKS cached; the new kid makes it refetch
    // once the refetch interval (200 ms) has passed.
    clock.advance(Duration::from_millis(250));
    let after = token(&pki, &server, &a, "a").await;
    let (status, _, body) = a_reads(&after).await;
    assert_eq!(status, 200, "new key accepted without restart: {body}");
    assert_eq!(a_reads(&before).await.0, 200, "old key still published");

    // The AS goes away: keys already cached keep validating.
    server.stop().await;
    let (status, _, body) = a_reads(&after).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_tokens_through_introspection_until_revoked() {
    let (pki, server, _dir) = AsFixture::start("").await.into_parts();
    register(&server, "olive", "read", TokenFormat::Opaque).await;
    register_introspecting_client(&server, "gateway").await;
    let olive = pki.simple_client("olive");
    let gw = pki.simple_client("gateway");
    let tls =
        TlsSettings::from_pem_files(Some(&pki.ca_path()), Some((&gw.cert_path, &gw.key_path)))
            .expect("tls");
    let (mut o, clock) = options_with_clock(&server.issuer);
    o.introspection = Some(IntrospectionOptions {
        client_id: "gateway".into(),
        positive_ttl: Duration::from_millis(500),
        negative_ttl: Duration::from_millis(500),
    });
    let guard = Guard::discover(o, &tls).await.expect("discover");
    let rs = start_resource(&pki, guard).await;
    let read = format!("{rs}/read");
    let t = token(&pki, &server, &olive, "olive").await;
    assert_eq!(t.matches('.').count(), 0, "opaque");
    let bearer = format!("Authorization: Bearer {t}");
    let (status, _, body) = curl(&pki, Some(&olive), &["-H", &bearer, &read]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["x5t#S256"],
        Value::from(olive.thumbprint().to_string())
    );
    // Still bound: another certificate is refused.
    assert_eq!(curl(&pki, Some(&gw), &["-H", &bearer, &read]).await.0, 401);

    let revoke_url = format!("{}/revoke", server.mtls_url.clone().unwrap_or_default());
    let (status, _, _) = curl(
        &pki,
        Some(&olive),
        &["-d", &format!("client_id=olive&token={t}"), &revoke_url],
    )
    .await;
    assert_eq!(status, 200);
    // Past the introspection cache's 500 ms.
    clock.advance(Duration::from_millis(600));
    let (status, _, body) = curl(&pki, Some(&olive), &["-H", &bearer, &read]).await;
    assert_error(status, &body, (401, "invalid_token"));
    server.stop().await;
}

/// Revokes `token` at the AS as `id`.
async fn revoke_at(
    pki: &TestPki,
    server: &certbound_server::RunningServer,
    who: &certbound_testkit::TestIdentity,
    id: &str,
    token: &str,
) {
    let url = format!("{}/revoke", server.mtls_url.clone().unwrap_or_default());
    let data = format!("client_id={id}&token={token}");
    let (status, _, body) = curl(pki, Some(who), &["-d", &data, &url]).await;
    assert_eq!(status, 200, "{body}");
}

/// Requests `url` with `token` until it is refused, for at most `within`;
/// returns the last status, challenge and body.
async fn until_refused(
    pki: &TestPki,
    who: &certbound_testkit::TestIdentity,
    token: &str,
    url: &str,
    within: Duration,
) -> (u16, String, Value) {
    let bearer = format!("Authorization: Bearer {token}");
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let answer = curl(pki, Some(who), &["-H", &bearer, url]).await;
        if answer.0 != 200 || tokio::time::Instant::now() >= deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_jwts_are_refused_from_the_revocation_list() {
    let (pki, server, _dir) = AsFixture::start("").await.into_parts();
    register(&server, "a", "read", TokenFormat::Jwt).await;
    register(&server, "plain", "", TokenFormat::Jwt).await;
    register_introspecting_client(&server, "gateway").await;
    let a = pki.simple_client("a");
    let tls_as = |id: &str| {
        let who = pki.simple_client(id);
        TlsSettings::from_pem_files(Some(&pki.ca_path()), Some((&who.cert_path, &who.key_path)))
            .expect("tls")
    };
    let with_revocation = |client_id: &str, stale: Option<Duration>| {
        let mut o = options(&server.issuer);
        o.revocation = Some(RevocationOptions {
            client_id: client_id.into(),
            poll_interval: Duration::from_secs(1),
            max_staleness: stale,
        });
        o
    };

    // A client without may_introspect cannot follow the list: the guard says so at start.
    match Guard::discover(with_revocation("plain", None), &tls_as("plain")).await {
        Err(GuardError::Setup(why)) => assert!(
            why.contains(
                "reading the revocation list as client \"plain\" (it needs may_introspect"
            ) && why.contains("HTTP 403"),
            "{why}"
        ),
        Err(other) => panic!("expected a set-up error, got {other:?}"),
        Ok(_) => panic!("expected a set-up error, got a guard"),
    }

    let guard = Guard::discover(
        with_revocation("gateway", Some(Duration::from_secs(3))),
        &tls_as("gateway"),
    )
    .await
    .expect("discover");
    let rs = start_resource(&pki, guard).await;
    let read = format!("{rs}/read");
    let revoked = token(&pki, &server, &a, "a").await;
    let kept = token(&pki, &server, &a, "a").await;
    for t in [&revoked, &kept] {
        let (status, _, body) = curl(&pki, Some(&a), &["-H", &bearer(t), &read]).await;
        assert_eq!(status, 200, "{body}");
    }
    // Both are now in the verified-token cache; revocation must reach a cache hit.
    revoke_at(&pki, &server, &a, "a", &revoked).await;
    let (status, challenge, body) =
        until_refused(&pki, &a, &revoked, &read, Duration::from_secs(4)).await;
    assert_described_error(
        status,
        &body,
        (401, "invalid_token", "the token has been revoked"),
        "",
    );
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    let (status, _, body) = curl(&pki, Some(&a), &["-H", &bearer(&kept), &read]).await;
    assert_eq!(
        status, 200,
        "another token of the same client still works: {body}"
    );

    // The AS goes away: the last list is kept (the revoked token stays
    // refused, the other works) until it is 3 s stale; then every token is
    // refused with 503 rather than trusting a list that may be missing revocations.
    server.stop().await;
    let (status, _, _) = curl(&pki, Some(&a), &["-H", &bearer(&revoked), &read]).await;
    assert_eq!(status, 401);
    let (status, _, body) = until_refused(&pki, &a, &kept, &read, Duration::from_secs(6)).await;
    assert_eq!(
        (
            status,
            body["error"].as_str(),
            body["error_description"].as_str()
        ),
        (
            503,
            Some("temporarily_unavailable"),
            // Generic, like every outage answer; the log says which list is stale.
            Some("the authorization server is temporarily unavailable; retry shortly")
        ),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audience_is_required_and_unbound_tokens_refused_by_default() {
    use certbound_core::AuthMethod;
    use certbound_server::clients::ClientMetadata;
    let (pki, server, _dir) = AsFixture::start("").await.into_parts();
    register(&server, "a", "read", TokenFormat::Jwt).await;
    let mut m = ClientMetadata::new(AuthMethod::TlsClientAuth);
    m.tls_client_auth_subject_dn = Some("CN=nobind".into());
    m.scope = "read".into();
    m.tls_client_certificate_bound_access_tokens = false;
    certbound_server::register_client(server.server.store.as_ref(), "nobind", m, None)
        .await
        .expect("register");
    let (a, nobind) = (pki.simple_client("a"), pki.simple_client("nobind"));
    let tls = TlsSettings::from_pem_files(Some(&pki.ca_path()), None).expect("tls");
    // No way to build a guard that skips the audience check.
    for audiences in [vec![], vec![String::new()]] {
        let mut o = options(&server.issuer);
        o.audiences = audiences;
        match Guard::discover(o, &tls).await {
            Err(certbound_guard::GuardError::Setup(m)) => {
                assert!(m.starts_with("no audience"), "{m}")
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("a guard without an audience was built"),
        }
    }
    // Defaults: the AS's default audience (its issuer) passes, unbound tokens do not.
    let defaults = GuardOptions::new(server.issuer.clone(), server.issuer.clone());
    assert!(defaults.require_bound_tokens);
    let guard = Guard::discover(defaults, &tls).await.expect("discover");
    let rs = start_resource(&pki, guard).await;
    let read = format!("{rs}/read");
    let ta = token(&pki, &server, &a, "a").await;
    let (status, _, body) = curl(&pki, Some(&a), &["-H", &bearer(&ta), &read]).await;
    assert_eq!(status, 200, "{body}");
    let tn = token(&pki, &server, &nobind, "nobind").await;
    for who in [Some(&nobind), None] {
        let (status, _, body) = curl(&pki, who, &["-H", &bearer(&tn), &read]).await;
        assert_eq!(
            (status, &body),
            (
                401,
                &json!({"error": "invalid_token", "error_description": "the token is not certificate-bound; this resource accepts only certificate-bound tokens"})
            )
        );
    }
    // Another audience: a's bound token is refused by a guard for another resource.
    let mut o = options(&server.issuer);
    o.audiences = vec!["https://orders.example".into()];
    let guard = Guard::discover(o, &tls).await.expect("discover");
    let rs = start_resource(&pki, guard).await;
    let (status, _, body) =
        curl(&pki, Some(&a), &["-H", &bearer(&ta), &format!("{rs}/read")]).await;
    assert_error_description(
        status,
        &body,
        (401, "the token is not meant for this resource (aud)"),
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_the_reachable_as_does_not_publish_is_401() {
    use certbound_core::{AccessTokenClaims, Confirmation};
    let (pki, server, _dir, a, clock, rs) = guarded("").await;
    let read = format!("{rs}/read");

    // The same claims as a real token, signed with a fresh key of our own.
    let real = token(&pki, &server, &a, "a").await;
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
    .unwrap_or_default();
    let signer = stranger_signer();
    let forged = signer
        .sign_claims(&AccessTokenClaims {
            iss: server.issuer.clone(),
            sub: "a".into(),
            aud: server.issuer.clone(),
            exp: now + 300,
            iat: now,
            jti: "forged".into(),
            client_id: "a".into(),
            scope: Some("read".into()),
            cnf: Some(Confirmation::for_thumbprint(a.thumbprint())),
        })
        .expect("sign");
    let unpublished = json!({
        "error": "invalid_token",
        "error_description": "signed by a key the authorization server does not publish"
    });
    // Right after a successful fetch (the set is fresh: no refetch), and
    // after a new fetch that the AS answered: 401 both times.
    let (status, _, body) = curl(&pki, Some(&a), &["-H", &bearer(&real), &read]).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = curl(&pki, Some(&a), &["-H", &bearer(&forged), &read]).await;
    assert_eq!((status, &body), (401, &unpublished));
    clock.advance(Duration::from_millis(250));
    let (status, _, body) = curl(&pki, Some(&a), &["-H", &bearer(&forged), &read]).await;
    assert_eq!((status, &body), (401, &unpublished));

    // The AS goes away: the same unknown kid is now 503 (the keys could
    // not be refreshed), and the body names no URL.
    server.stop().await;
    clock.advance(Duration::from_millis(250));
    for _ in 0..2 {
        let (status, challenge, body) =
            curl(&pki, Some(&a), &["-H", &bearer(&forged), &read]).await;
        assert_eq!(
            (status, challenge.as_str(), &body),
            (
                503,
                "bearer realm=\"certbound\"",
                &json!({"error": "temporarily_unavailable", "error_description": "the authorization server is temporarily unavailable; retry shortly"})
            )
        );
    }
}

/// The authorization server's own token check and the guard run the same
/// jose verifier: every token gets the same verdict from both (the server
/// asked with the guard's audience, as a resource would ask it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_and_the_guard_give_the_same_verdicts() {
    use certbound_core::{AccessTokenClaims, Clock, Confirmation, SystemClock};
    use certbound_guard::InvalidToken;
    use certbound_jose::JoseError;

    let pki = TestPki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_as(&pki, dir.path(), "").await;
    register(&server, "a", "read", TokenFormat::Jwt).await;
    let a = pki.simple_client("a");
    let tls = TlsSettings::from_pem_files(Some(&pki.ca_path()), None).expect("tls");
    let guard = Guard::discover(options(&server.issuer), &tls)
        .await
        .expect("discover");
    let now = SystemClock.unix_seconds();
    let claims = |iss: &str, aud: &str, exp: i64| AccessTokenClaims {
        iss: iss.into(),
        sub: "a".into(),
        aud: aud.into(),
        exp,
        iat: now,
        jti: format!("j{exp}{aud}{iss}"),
        client_id: "a".into(),
        scope: Some("read".into()),
        cnf: Some(Confirmation::for_thumbprint(a.thumbprint())),
    };
    let keys = server.server.keys.get().await.expect("keys");
    let signer = &keys.active.signer;
    let (iss, aud) = (server.issuer.as_str(), server.issuer.as_str());
    let sign = |c: &AccessTokenClaims| signer.sign_claims(c).expect("sign");

    let good = token(&pki, &server, &a, "a").await;
    let expired = sign(&claims(iss, aud, now - 60));
    let mut jwt_header = signer.header();
    jwt_header.typ = Some("JWT".into());
    let wrong_typ = signer
        .sign(&jwt_header, &claims(iss, aud, now + 300))
        .expect("sign");
    let wrong_aud = sign(&claims(iss, "https://elsewhere.example", now + 300));
    let wrong_iss = sign(&claims("https://other.example", aud, now + 300));
    let bad_signature = {
        let other = sign(&claims(iss, aud, now + 301));
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        parts[1] = other.split('.').nth(1).unwrap_or_default().to_owned();
        parts.join(".")
    };
    let stranger = stranger_signer();
    let unknown_kid = stranger
        .sign_claims(&claims(iss, aud, now + 300))
        .expect("sign");

    let cases = [
        (&good, None),
        (&expired, Some(InvalidToken::Expired)),
        (&wrong_typ, Some(InvalidToken::NotAnAccessToken)),
        (&wrong_aud, Some(InvalidToken::WrongAudience)),
        (&wrong_iss, Some(InvalidToken::WrongIssuer)),
        (&bad_signature, Some(InvalidToken::BadSignature)),
        (&unknown_kid, Some(InvalidToken::UnknownKey)),
    ];
    for (t, want) in cases {
        let at_server = certbound_server::tokens::verify_jwt(
            &server.server,
            t,
            Some(guard.options().audiences.clone()),
        )
        .await
        .and_then(|signed| signed.at(SystemClock.unix_seconds()));
        let server_verdict = match at_server {
            Ok(_) => None,
            Err(JoseError::Rejected(why)) => Some(InvalidToken::from(why)),
            Err(e) => panic!("the server could not decide: {e}"),
        };
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            format!("Bearer {t}").parse().expect("header"),
        );
        let guard_verdict = match guard.verify(&headers, None, Some(a.thumbprint())).await {
            Ok(_) => None,
            Err(GuardError::InvalidToken(why)) => Some(why),
            Err(e) => panic!("the guard could not decide: {e}"),
        };
        assert_eq!(server_verdict, want, "server");
        assert_eq!(guard_verdict, want, "guard");
    }
    server.stop().await;
}

/// [`Discovery`] in the steps a gateway retries, against a stand-in AS on
/// mTLS whose JWKS endpoint fails, then publishes nothing usable, then a
/// key: each failure says whether waiting can help (`Unavailable`) or one
/// side must change (`Setup`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_and_preloading_say_whether_a_retry_can_help() {
    use std::sync::atomic::{AtomicU8, AtomicU16, Ordering};
    let pki = TestPki::new();
    let tls = TlsSettings::from_pem_files(Some(&pki.ca_path()), None).expect("tls");

    // Nothing listens: unreachable, so worth retrying.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let issuer = format!("https://localhost:{dead}");
    let discovery = Discovery::new(options(&issuer), &tls).expect("no server needed");
    match discovery.attempt().await {
        Err(GuardError::Unavailable(why)) => {
            assert!(why.starts_with(&format!("discovering {issuer}: ")), "{why}")
        }
        Err(e) => panic!("{e:?}"),
        Ok(_) => panic!("discovered nothing"),
    }

    // 0: the JWKS answers 503; 1: no usable key (HMAC only); 2: one EC key.
    let jwks_state = Arc::new(AtomicU8::new(0));
    let port = Arc::new(AtomicU16::new(0));
    let (s, p) = (Arc::clone(&jwks_state), Arc::clone(&port));
    let app = Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(move || {
                let base = format!("https://localhost:{}", p.load(Ordering::SeqCst));
                async move {
                    axum::Json(json!({
                        "issuer": base,
                        "token_endpoint": format!("{base}/token"),
                        "jwks_uri": format!("{base}/jwks"),
                    }))
                }
            }),
        )
        .route(
            "/jwks",
            get(move || {
                let state = s.load(Ordering::SeqCst);
                async move {
                    use axum::response::IntoResponse;
                    match state {
                        0 => http::StatusCode::SERVICE_UNAVAILABLE.into_response(),
                        1 => axum::Json(
                            json!({"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}]}),
                        )
                        .into_response(),
                        _ => axum::Json(json!({"keys": [{
                            "kty": "EC", "crv": "P-256", "kid": "e", "alg": "ES256",
                            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
                        }]}))
                        .into_response(),
                    }
                }
            }),
        );
    port.store(
        serve_mtls(&pki, app, std::future::pending()).await,
        Ordering::SeqCst,
    );
    let issuer = format!("https://localhost:{}", port.load(Ordering::SeqCst));

    // Reached, but it names itself otherwise (the test certificate covers
    // 127.0.0.1 too): one side must change.
    let by_address = format!("https://127.0.0.1:{}", port.load(Ordering::SeqCst));
    match Discovery::new(options(&by_address), &tls)
        .expect("no server needed")
        .attempt()
        .await
    {
        Err(GuardError::Setup(why)) => {
            assert!(
                why.ends_with(&format!("names issuer {issuer}, expected {by_address}")),
                "{why}"
            )
        }
        Err(e) => panic!("{e:?}"),
        Ok(_) => panic!("another issuer accepted"),
    }

    let guard = Discovery::new(options(&issuer), &tls)
        .expect("no server needed")
        .attempt()
        .await
        .expect("metadata");
    match guard.preload().await {
        Err(GuardError::Unavailable(why)) => assert!(
            why.starts_with("fetching the signing keys: ") && why.contains("503"),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
    jwks_state.store(1, Ordering::SeqCst);
    match guard.preload().await {
        Err(GuardError::Setup(why)) => assert_eq!(
            why,
            format!("{issuer}/jwks publishes no key the guard can verify tokens with")
        ),
        other => panic!("{other:?}"),
    }
    jwks_state.store(2, Ordering::SeqCst);
    assert_eq!(guard.preload().await, Ok(1));
    assert!(!guard.revocation_list_stale(), "no list followed");
}
