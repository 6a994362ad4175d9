//! The authorization response (RFC 6749 §4.1.2, errors §4.1.2.1) with
//! RFC 9207 `iss`: a 303 to the redirect URI, or an OAuth 2.0 Form Post page.

use axum::response::Response;
use http::StatusCode;

use super::error::ErrorKind;
use super::html::{self, FORM_POST_SCRIPT, FormPostPage, Policy};
use super::request::{ClientTarget, ResponseMode};

/// A response on its way back to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationResponse {
    /// Where and how.
    pub target: ClientTarget,
    /// `code`, or `error` and `error_description`; `state` and `iss` are
    /// added when it is sent.
    pub params: Vec<(&'static str, String)>,
}

impl AuthorizationResponse {
    /// A successful response carrying `code`.
    pub fn code(target: &ClientTarget, code: String) -> Self {
        Self {
            target: target.clone(),
            params: vec![("code", code)],
        }
    }

    /// An error response.
    pub fn error(target: &ClientTarget, kind: ErrorKind, description: Option<String>) -> Self {
        let mut params = vec![("error", kind.as_str().to_owned())];
        if let Some(d) = description {
            params.push(("error_description", d));
        }
        Self {
            target: target.clone(),
            params,
        }
    }

    /// Every parameter, `state` and `iss` included.
    pub fn all_params(&self, issuer: &str) -> Vec<(&'static str, String)> {
        let mut params = self.params.clone();
        if let Some(state) = &self.target.state {
            params.push(("state", state.clone()));
        }
        params.push(("iss", issuer.to_owned()));
        params
    }

    /// The redirect URI with the parameters in its query.
    pub fn redirect_url(&self, issuer: &str) -> String {
        let mut url = self.target.redirect_uri.clone();
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in self.all_params(issuer) {
            query.append_pair(name, &value);
        }
        // A registered URI may carry a query of its own (RFC 6749 §3.1.2).
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&query.finish());
        url
    }

    /// The HTTP response the browser gets.
    pub fn into_http(self, issuer: &str) -> Response {
        match self.target.response_mode {
            ResponseMode::Query => html::see_other(&self.redirect_url(issuer)),
            ResponseMode::FormPost => {
                let params = self.all_params(issuer);
                let origin = html::csp_origin(&self.target.redirect_uri);
                html::render(
                    StatusCode::OK,
                    &FormPostPage {
                        action: &self.target.redirect_uri,
                        params: &params,
                        script: FORM_POST_SCRIPT,
                    },
                    Policy {
                        form_origin: origin.as_deref(),
                        form_post_script: true,
                    },
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_appended_and_escaped() {
        let target = ClientTarget {
            redirect_uri: "https://app.example/cb?x=1".into(),
            state: Some("a b&c".into()),
            response_mode: ResponseMode::Query,
        };
        let r = AuthorizationResponse::code(&target, "C".into());
        assert_eq!(
            r.redirect_url("https://as.example"),
            "https://app.example/cb?x=1&code=C&state=a+b%26c&iss=https%3A%2F%2Fas.example"
        );
    }
}
