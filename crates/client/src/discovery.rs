//! RFC 8414 discovery and the token request.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use certbound_core::metadata::{AuthorizationServerMetadata, Endpoint, metadata_url};

use crate::{ClientError, TlsSettings};

/// A successful token response.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    /// The token.
    pub access_token: String,
    /// Usually `Bearer`.
    pub token_type: String,
    /// Lifetime in seconds.
    #[serde(default)]
    pub expires_in: Option<i64>,
    /// Granted scope.
    #[serde(default)]
    pub scope: Option<String>,
    /// The whole response, as received.
    #[serde(skip)]
    pub raw: Value,
}

/// An HTTP client holding a TLS identity and the server's metadata.
pub struct OAuthClient {
    http: reqwest::Client,
    metadata: AuthorizationServerMetadata,
}

impl OAuthClient {
    /// Fetches the metadata of `issuer` and checks it names that issuer.
    pub async fn discover(issuer: &str, tls: &TlsSettings) -> Result<Self, ClientError> {
        Self::discover_with(http_client(tls, DEFAULT_TIMEOUT)?, issuer).await
    }

    /// As [`OAuthClient::discover`], over an HTTP client built by the caller
    /// (it must present the TLS identity that tokens should be bound to).
    pub async fn discover_with(http: reqwest::Client, issuer: &str) -> Result<Self, ClientError> {
        let url = metadata_url(issuer);
        let (status, body) = exchange(http.get(&url), &url).await?;
        if !status.is_success() {
            return Err(ClientError::Discovery {
                url,
                reason: format!("HTTP {status}"),
            });
        }
        let metadata: AuthorizationServerMetadata =
            serde_json::from_slice(&body).map_err(|e| ClientError::Discovery {
                url: url.clone(),
                reason: format!("not RFC 8414 metadata: {e}"),
            })?;
        if metadata.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(ClientError::Discovery {
                url,
                reason: format!(
                    "issuer mismatch: asked for {issuer}, document says {}",
                    metadata.issuer
                ),
            });
        }
        Ok(Self { http, metadata })
    }

    /// The discovered metadata.
    pub fn metadata(&self) -> &AuthorizationServerMetadata {
        &self.metadata
    }

    /// The HTTP client (and so the TLS identity) this client talks over.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The token endpoint a certificate-authenticated client uses: the
    /// `mtls_endpoint_aliases` entry if present, else `token_endpoint`.
    pub fn mtls_token_endpoint(&self) -> &str {
        self.metadata
            .mtls_endpoint(Endpoint::Token)
            .unwrap_or(&self.metadata.token_endpoint)
    }

    /// `client_credentials` with certificate authentication at the mTLS token endpoint.
    pub async fn client_credentials(
        &self,
        client_id: &str,
        scope: Option<&str>,
    ) -> Result<TokenResponse, ClientError> {
        let url = self.mtls_token_endpoint().to_owned();
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let (status, bytes) = exchange(self.http.post(&url).form(&form), &url).await?;
        let body: Value = match serde_json::from_slice(&bytes) {
            Ok(body) => body,
            Err(e) => {
                return Err(ClientError::BadTokenResponse {
                    url,
                    reason: format!("HTTP {status} with a body that is not JSON ({e})"),
                });
            }
        };
        if !status.is_success() {
            let field = |k: &str| {
                body.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            return Err(ClientError::OAuth {
                status: status.as_u16(),
                error: field("error"),
                description: field("error_description"),
            });
        }
        let mut token: TokenResponse =
            serde_json::from_value(body.clone()).map_err(|e| ClientError::BadTokenResponse {
                url,
                reason: e.to_string(),
            })?;
        token.raw = body;
        Ok(token)
    }
}

/// The request timeout of [`OAuthClient::discover`].
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP client builder presenting the identity in `tls` (no proxies).
pub(crate) fn http_client_builder(tls: &TlsSettings, timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .use_preconfigured_tls((*tls.client_config()).clone())
        .no_proxy()
        .timeout(timeout)
}

/// The HTTP client every request made with `tls` goes through.
pub(crate) fn http_client(
    tls: &TlsSettings,
    timeout: Duration,
) -> Result<reqwest::Client, ClientError> {
    http_client_builder(tls, timeout)
        .build()
        .map_err(|e| ClientError::Tls(e.to_string()))
}

/// Sends `request` to `url` and reads the whole answer.
async fn exchange(
    request: reqwest::RequestBuilder,
    url: &str,
) -> Result<(reqwest::StatusCode, bytes::Bytes), ClientError> {
    let res = request.send().await.map_err(|e| transport(url, &e))?;
    let status = res.status();
    let body = res.bytes().await.map_err(|e| transport(url, &e))?;
    Ok((status, body))
}

/// A transport failure at `url`, with reqwest's whole cause chain.
pub(crate) fn transport(url: &str, e: &reqwest::Error) -> ClientError {
    ClientError::Transport {
        url: url.to_owned(),
        reason: describe(e),
    }
}

/// An HTTP error with its whole cause chain: reqwest's own message hides
/// the cause (a TLS alert, a refused connection) that says what to fix.
pub fn describe(e: &reqwest::Error) -> String {
    certbound_tls::describe_error_chain(e)
}
