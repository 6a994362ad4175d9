//! Outbound fetches to the authorization server, restricted: HTTPS only,
//! no redirects, bounded size and time. The URLs come from configuration and
//! the server's metadata, and the guard must never be turned into a proxy.

use std::time::Duration;

use certbound_tls::TlsSettings;
use serde::de::DeserializeOwned;

use crate::GuardError;

/// Largest JWKS, metadata or introspection response accepted.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// An HTTP client for talking to the authorization server.
#[derive(Clone)]
pub(crate) struct Fetcher {
    http: reqwest::Client,
}

impl Fetcher {
    pub(crate) fn new(tls: &TlsSettings, timeout: Duration) -> Result<Self, GuardError> {
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*tls.client_config()).clone())
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .build()
            .map_err(|e| GuardError::Setup(format!("HTTP client: {e}")))?;
        Ok(Self { http })
    }

    /// GET a JSON document.
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, GuardError> {
        check_url(url)?;
        let res = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| unavailable(url, &e))?;
        read_json(url, res).await
    }

    /// POST a form and read a JSON answer.
    pub(crate) async fn post_form<T: DeserializeOwned>(
        &self,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<T, GuardError> {
        check_url(url)?;
        let res = self
            .http
            .post(url)
            .form(form)
            .send()
            .await
            .map_err(|e| unavailable(url, &e))?;
        read_json(url, res).await
    }
}

fn check_url(url: &str) -> Result<(), GuardError> {
    if !url.starts_with("https://") {
        return Err(GuardError::Setup(format!(
            "refusing to fetch {url}: only https:// URLs are allowed"
        )));
    }
    Ok(())
}

async fn read_json<T: DeserializeOwned>(
    url: &str,
    mut res: reqwest::Response,
) -> Result<T, GuardError> {
    let status = res.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        // Refused as the client it is: only a change at the server helps.
        return Err(GuardError::Setup(format!("{url} answered HTTP {status}")));
    }
    if !status.is_success() {
        return Err(GuardError::Unavailable(format!(
            "{url} answered HTTP {status}"
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| unavailable(url, &e))? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(GuardError::Unavailable(format!(
                "{url} answered with more than {MAX_RESPONSE_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| {
        GuardError::Unavailable(format!("{url} did not answer the expected JSON: {e}"))
    })
}

fn unavailable(url: &str, e: &reqwest::Error) -> GuardError {
    GuardError::Unavailable(format!("{url}: {}", certbound_tls::describe_error_chain(e)))
}
