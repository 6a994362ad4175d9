//! RFC 8414 discovery and the token request.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::{ClientError, TlsSettings};

/// The metadata fields a client needs.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerMetadata {
    /// Issuer.
    pub issuer: String,
    /// Token endpoint (may not request client certificates).
    pub token_endpoint: String,
    /// JWKS.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Introspection endpoint.
    #[serde(default)]
    pub introspection_endpoint: Option<String>,
    /// Revocation endpoint.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// certbound's revocation list of revoked JWTs (for local verifiers).
    #[serde(default)]
    pub certbound_revocation_list_endpoint: Option<String>,
    /// RFC 8705 §5 aliases for mTLS clients.
    #[serde(default)]
    pub mtls_endpoint_aliases: BTreeMap<String, String>,
    /// RFC 8705 §3.3.
    #[serde(default)]
    pub tls_client_certificate_bound_access_tokens: bool,
}

impl ServerMetadata {
    /// The endpoint an mTLS client uses: the alias if present (RFC 8705 §5).
    pub fn mtls_endpoint<'a>(&'a self, name: &str, fallback: &'a str) -> &'a str {
        self.mtls_endpoint_aliases
            .get(name)
            .map_or(fallback, String::as_str)
    }
}

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

/// RFC 8414 §3: the metadata URL for an issuer (path component after the well-known segment).
pub fn metadata_url(issuer: &str) -> String {
    let issuer = issuer.trim_end_matches('/');
    match issuer.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('/') {
            Some((host, path)) => {
                format!("{scheme}://{host}/.well-known/oauth-authorization-server/{path}")
            }
            None => format!("{issuer}/.well-known/oauth-authorization-server"),
        },
        None => format!("{issuer}/.well-known/oauth-authorization-server"),
    }
}

/// An HTTP client holding a TLS identity and the server's metadata.
pub struct OAuthClient {
    http: reqwest::Client,
    metadata: ServerMetadata,
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
        let res = http
            .get(&url)
            .send()
            .await
            .map_err(|e| transport(&url, &e))?;
        let status = res.status();
        let body = res.bytes().await.map_err(|e| transport(&url, &e))?;
        if !status.is_success() {
            return Err(ClientError::Discovery {
                url,
                reason: format!("HTTP {status}"),
            });
        }
        let metadata: ServerMetadata =
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
    pub fn metadata(&self) -> &ServerMetadata {
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
            .mtls_endpoint("token_endpoint", &self.metadata.token_endpoint)
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
        let res = self
            .http
            .post(&url)
            .form(&form)
            .send()
            .await
            .map_err(|e| transport(&url, &e))?;
        let status = res.status();
        let bytes = res.bytes().await.map_err(|e| transport(&url, &e))?;
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
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        source = s.source();
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8414_metadata_urls() {
        assert_eq!(
            metadata_url("https://as.example"),
            "https://as.example/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            metadata_url("https://as.example/tenant"),
            "https://as.example/.well-known/oauth-authorization-server/tenant"
        );
    }
}
