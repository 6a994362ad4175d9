//! [`CertboundClient`]: one TLS identity, one issuer, one `client_id`; a
//! cached certificate-bound token, refreshed before it expires, attached to
//! requests sent over the same identity so the binding holds.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, Url};
use tokio::sync::OnceCell;
use tracing::{debug, info, warn};

use crate::cache::TokenCache;
use crate::discovery::{DEFAULT_TIMEOUT, http_client_builder, transport};
use crate::request::rejects_token;
use crate::{
    AccessToken, AuthorizationServerMetadata, BoundRequest, ClientError, Clock, OAuthClient,
    RefreshPolicy, ResourceRequest, SystemClock, TlsSettings,
};

/// A client of an RFC 8705 authorization server and the resources it protects.
///
/// Cheap to clone; clones share the HTTP connections, metadata and token.
#[derive(Clone)]
pub struct CertboundClient {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    client_id: String,
    scope: Option<String>,
    http: reqwest::Client,
    oauth: OnceCell<OAuthClient>,
    policy: RefreshPolicy,
    clock: Arc<dyn Clock>,
    cache: TokenCache,
}

/// Settings of a [`CertboundClient`] before it is built.
#[derive(Debug)]
pub struct CertboundClientBuilder {
    issuer: String,
    client_id: String,
    tls: TlsSettings,
    scope: Option<String>,
    policy: RefreshPolicy,
    clock: Arc<dyn Clock>,
    timeout: Duration,
}

impl CertboundClientBuilder {
    /// Scopes to request, space-separated (default: the client's registered scopes).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// When to refresh the token (default: 30 s or 10% of its lifetime before expiry, whichever is less).
    pub fn refresh_policy(mut self, policy: RefreshPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The time source for expiry decisions (default: [`SystemClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Timeout of each HTTP request, token and resource alike (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Builds the client; nothing is sent until the first token or request.
    pub fn build(self) -> Result<CertboundClient, ClientError> {
        if !self.tls.has_identity() {
            return Err(ClientError::NoIdentity);
        }
        // https only, redirects included: the token must never travel in clear.
        let http = http_client_builder(&self.tls, self.timeout)
            .https_only(true)
            .build()
            .map_err(|e| ClientError::Tls(e.to_string()))?;
        Ok(CertboundClient {
            inner: Arc::new(Inner {
                issuer: self.issuer,
                client_id: self.client_id,
                scope: self.scope,
                http,
                oauth: OnceCell::new(),
                policy: self.policy,
                clock: self.clock,
                cache: TokenCache::default(),
            }),
        })
    }
}

impl CertboundClient {
    /// Starts building a client of `issuer` authenticating as `client_id`
    /// with the certificate in `tls` (which must carry an identity).
    pub fn builder(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        tls: TlsSettings,
    ) -> CertboundClientBuilder {
        CertboundClientBuilder {
            issuer: issuer.into(),
            client_id: client_id.into(),
            tls,
            scope: None,
            policy: RefreshPolicy::default(),
            clock: Arc::new(SystemClock),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The issuer URL.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The `client_id`.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The HTTP client, presenting this client's certificate.
    pub fn http_client(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The issuer's metadata, discovered on first use (a failed discovery is retried next call).
    pub async fn metadata(&self) -> Result<&AuthorizationServerMetadata, ClientError> {
        Ok(self.oauth().await?.metadata())
    }

    /// The token endpoint used: the mTLS alias if the issuer publishes one.
    pub async fn token_endpoint(&self) -> Result<&str, ClientError> {
        Ok(self.oauth().await?.mtls_token_endpoint())
    }

    async fn oauth(&self) -> Result<&OAuthClient, ClientError> {
        self.inner
            .oauth
            .get_or_try_init(|| async {
                debug!(issuer = %self.inner.issuer, "discovering authorization server metadata");
                let oauth =
                    OAuthClient::discover_with(self.inner.http.clone(), &self.inner.issuer).await?;
                if !oauth.metadata().tls_client_certificate_bound_access_tokens {
                    warn!(issuer = %self.inner.issuer, "the authorization server does not advertise certificate-bound access tokens");
                }
                Ok(oauth)
            })
            .await
    }

    /// A valid access token: the cached one unless it is due for refresh;
    /// concurrent callers share a single fetch.
    pub async fn token(&self) -> Result<Arc<AccessToken>, ClientError> {
        let clock = Arc::clone(&self.inner.clock);
        self.inner
            .cache
            .get(move || clock.instant(), || self.fetch_token())
            .await
    }

    /// Drops `token` from the cache (if still cached) so the next call fetches
    /// a new one; for resources that reject a token in their own way.
    pub async fn forget_token(&self, token: &AccessToken) {
        self.inner.cache.forget(token).await;
    }

    async fn fetch_token(&self) -> Result<AccessToken, ClientError> {
        let oauth = self.oauth().await?;
        let url = oauth.mtls_token_endpoint();
        let started = self.inner.clock.instant();
        debug!(client_id = %self.inner.client_id, endpoint = %url, "requesting an access token");
        let response = oauth
            .client_credentials(&self.inner.client_id, self.inner.scope.as_deref())
            .await
            .map_err(|e| match e {
                ClientError::OAuth {
                    status,
                    error,
                    description,
                } => ClientError::TokenRefused {
                    url: url.to_owned(),
                    client_id: self.inner.client_id.clone(),
                    status,
                    error,
                    description,
                },
                other => other,
            })?;
        let bad = |reason: &str| ClientError::BadTokenResponse {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        if !response.token_type.eq_ignore_ascii_case("bearer") {
            return Err(bad(&format!(
                "token_type is '{}'; this client only sends Bearer tokens",
                response.token_type
            )));
        }
        if response.access_token.is_empty()
            || HeaderValue::from_str(&response.access_token).is_err()
        {
            return Err(bad(
                "the access_token is empty or not valid in an HTTP header",
            ));
        }
        debug!(client_id = %self.inner.client_id, expires_in = ?response.expires_in, "access token obtained");
        Ok(AccessToken::new(
            response.access_token,
            response.token_type,
            response.scope,
            response.expires_in,
            started,
            &self.inner.policy,
        ))
    }

    /// Starts a request to a resource; finish it with [`BoundRequest::send`].
    pub fn request(&self, method: Method, url: impl Into<String>) -> BoundRequest<'_> {
        BoundRequest::new(self, ResourceRequest::new(method, url))
    }

    /// Starts a GET request.
    pub fn get(&self, url: impl Into<String>) -> BoundRequest<'_> {
        self.request(Method::GET, url)
    }

    /// Starts a POST request.
    pub fn post(&self, url: impl Into<String>) -> BoundRequest<'_> {
        self.request(Method::POST, url)
    }

    /// Sends `request` with `Authorization: Bearer <token>` over this
    /// client's TLS identity. If the resource answers 401 with
    /// `error="invalid_token"`, fetches a new token and retries once; the
    /// second answer is returned whatever it is.
    pub async fn send(&self, request: ResourceRequest) -> Result<reqwest::Response, ClientError> {
        let url = request.target()?;
        let token = self.token().await?;
        let response = self.send_with(&request, &url, &token).await?;
        if !rejects_token(response.status(), response.headers()) {
            return Ok(response);
        }
        info!(
            host = url.host_str().unwrap_or_default(),
            path = url.path(),
            "the resource rejected the access token as invalid; fetching a new one and retrying once"
        );
        drop(response);
        self.forget_token(&token).await;
        let token = self.token().await?;
        self.send_with(&request, &url, &token).await
    }

    async fn send_with(
        &self,
        request: &ResourceRequest,
        url: &Url,
        token: &AccessToken,
    ) -> Result<reqwest::Response, ClientError> {
        let mut headers = request.headers().clone();
        headers.remove(AUTHORIZATION);
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", token.secret())).map_err(|_| {
                ClientError::BadTokenResponse {
                    url: self.inner.issuer.clone(),
                    reason: "the access_token is not valid in an HTTP header".into(),
                }
            })?;
        auth.set_sensitive(true);
        headers.insert(AUTHORIZATION, auth);
        let mut builder = self
            .inner
            .http
            .request(request.method().clone(), url.clone())
            .headers(headers);
        if !request.body_bytes().is_empty() {
            builder = builder.body(request.body_bytes().clone());
        }
        builder
            .send()
            .await
            .map_err(|e| transport(url.as_str(), &e))
    }
}

impl fmt::Debug for CertboundClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertboundClient")
            .field("issuer", &self.inner.issuer)
            .field("client_id", &self.inner.client_id)
            .field("scope", &self.inner.scope)
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}
