//! Client authentication at the token, introspection and revocation
//! endpoints: RFC 8705 §2 certificate methods and RFC 6749 §2.3.1 secrets.

use std::convert::Infallible;
use std::sync::Arc;

use axum::RequestPartsExt;
use axum::extract::{FromRequest, FromRequestParts, Request};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use certbound_core::AuthMethod;
use certbound_tls::{CallerAddress, ChainStatus, PeerCertificate};
use http::HeaderValue;
use http::header::AUTHORIZATION;
use http::request::Parts;
use percent_encoding::percent_decode_str;

use super::{RegisteredClient, secret_matches};
use crate::form::Form;
use crate::rate_limit::SourceAddress;
use crate::{AuthorizationServer, OAuthError, audit};

/// The one `error_description` of every client authentication failure that
/// depends on the client record or the certificate (RFC 6749 §5.2
/// `invalid_client`): unknown client, wrong method, wrong secret, missing,
/// expired, untrusted or non-matching certificate. The audit log says which.
pub const CLIENT_AUTH_FAILED: &str = "client authentication failed: check the client_id, the authentication method it is registered for, and its secret or certificate (certificate methods must use the mTLS endpoint, mtls_endpoint_aliases in the server metadata)";

/// A client that proved who it is on this request.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    /// The client.
    pub client: Arc<RegisteredClient>,
    /// The certificate on the request, if any (also for secret clients).
    pub certificate: Option<PeerCertificate>,
}

/// The request's `Authorization` header and the address it came from,
/// taken on their own so the endpoints need not copy every header.
#[derive(Debug)]
pub struct ClientAuthorization {
    header: AuthorizationHeader,
    /// The caller's address for the rate limits; `None` behind a trusted
    /// proxy that does not report it, whose address every request shares.
    source: Option<SourceAddress>,
}

#[derive(Debug)]
enum AuthorizationHeader {
    /// No `Authorization` header.
    Absent,
    /// Exactly one.
    One(HeaderValue),
    /// More than one: refused when the client authenticates.
    Repeated,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAuthorization {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        let mut values = parts.headers.get_all(AUTHORIZATION).iter();
        let header = match (values.next(), values.next()) {
            (None, _) => AuthorizationHeader::Absent,
            (Some(value), None) => AuthorizationHeader::One(value.clone()),
            (Some(_), Some(_)) => AuthorizationHeader::Repeated,
        };
        let Ok(CallerAddress(caller)) = parts.extract::<CallerAddress>().await;
        Ok(Self {
            header,
            source: caller.map(SourceAddress::of),
        })
    }
}

/// A request to an endpoint where clients authenticate: its form, its
/// `Authorization` header and its certificate, checked by
/// [`ClientRequest::authenticate`] when the endpoint is ready to.
pub struct ClientRequest {
    /// The server it came to.
    pub server: Arc<AuthorizationServer>,
    /// The form body.
    pub form: Form,
    authorization: ClientAuthorization,
    certificate: Option<PeerCertificate>,
}

impl FromRequest<Arc<AuthorizationServer>> for ClientRequest {
    type Rejection = OAuthError;

    async fn from_request(
        req: Request,
        server: &Arc<AuthorizationServer>,
    ) -> Result<Self, OAuthError> {
        let (mut parts, body) = req.into_parts();
        let Ok(certificate) = parts.extract::<Option<PeerCertificate>>().await;
        let Ok(authorization) = parts.extract::<ClientAuthorization>().await;
        let form = Form::from_request(Request::from_parts(parts, body), server).await?;
        Ok(Self {
            server: Arc::clone(server),
            form,
            authorization,
            certificate,
        })
    }
}

/// A [`ClientRequest`] whose client is authenticated.
pub struct AuthenticatedRequest {
    /// The server it came to.
    pub server: Arc<AuthorizationServer>,
    /// The form body.
    pub form: Form,
    /// The client.
    pub caller: AuthenticatedClient,
}

impl ClientRequest {
    /// Authenticates the caller (see [`authenticate`]).
    pub async fn authenticate(self) -> Result<AuthenticatedRequest, OAuthError> {
        self.authenticate_for(Purpose::Other).await
    }

    async fn authenticate_for(self, purpose: Purpose) -> Result<AuthenticatedRequest, OAuthError> {
        let caller = check_client(
            &self.server,
            &self.authorization,
            &self.form,
            self.certificate,
            purpose,
        )
        .await?;
        Ok(AuthenticatedRequest {
            server: self.server,
            form: self.form,
            caller,
        })
    }

    /// Authenticates a confidential caller (see [`authenticate_confidential`]).
    pub async fn authenticate_confidential(self) -> Result<AuthenticatedRequest, OAuthError> {
        let request = self.authenticate().await?;
        require_confidential(&request.caller)?;
        Ok(request)
    }

    /// As [`ClientRequest::authenticate_confidential`], at introspection and
    /// the revocation list, where a `may_introspect` client (a gateway)
    /// asks for every caller behind it and so is not rate limited.
    pub async fn authenticate_introspector(self) -> Result<AuthenticatedRequest, OAuthError> {
        let request = self.authenticate_for(Purpose::Introspection).await?;
        require_confidential(&request.caller)?;
        Ok(request)
    }
}

/// Credentials found in a request, before checking them.
struct Presented {
    client_id: String,
    secret: Option<(String, AuthMethod)>,
}

/// Why a client authenticates, for the rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// Introspection or the revocation list: `may_introspect` clients are
    /// not limited there.
    Introspection,
    /// Everything else.
    Other,
}

/// Authenticates the caller or returns the RFC 6749 §5.2 error.
pub async fn authenticate(
    state: &AuthorizationServer,
    authorization: &ClientAuthorization,
    form: &Form,
    certificate: Option<PeerCertificate>,
) -> Result<AuthenticatedClient, OAuthError> {
    check_client(state, authorization, form, certificate, Purpose::Other).await
}

async fn check_client(
    state: &AuthorizationServer,
    authorization: &ClientAuthorization,
    form: &Form,
    certificate: Option<PeerCertificate>,
    purpose: Purpose,
) -> Result<AuthenticatedClient, OAuthError> {
    let limits = &state.rate_limits;
    let source = authorization.source;
    limits
        .admit_address(source)
        .map_err(|t| OAuthError::throttled(&t))?;
    let presented =
        presented_credentials(authorization, form).inspect_err(|_| limits.failed(source))?;
    let thumbprint = certificate.as_ref().map(PeerCertificate::thumbprint);
    // Every failure that depends on the client record or the certificate
    // gets the same answer, so client ids and their methods cannot be
    // enumerated; the reason goes to the audit log only. Failures cost
    // the address more than a request, never the client.
    let fail = |reason: &str| {
        limits.failed(source);
        audit::client_rejected(&presented.client_id, reason, thumbprint);
        OAuthError::invalid_client(CLIENT_AUTH_FAILED)
    };

    let Some(client) = state.client(&presented.client_id).await? else {
        return Err(fail("unknown client"));
    };
    let used = match &presented.secret {
        Some((_, method)) => *method,
        None => client.method,
    };
    if used != client.method {
        return Err(fail(&format!(
            "wrong authentication method: registered for {}, presented {used}",
            client.method
        )));
    }
    match client.method {
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => {
            if !state.settings.allow_client_secret {
                return Err(fail("client secrets are disabled on this server"));
            }
            let ok = match (&presented.secret, &client.secret_hash) {
                (Some((secret, _)), Some(hash)) => secret_matches(secret, hash),
                _ => false,
            };
            if !ok {
                return Err(fail("wrong secret"));
            }
        }
        // A public client proves nothing but its id; the grants it may use
        // (code with PKCE, bound refresh) carry the proof instead.
        AuthMethod::None => {}
        AuthMethod::TlsClientAuth | AuthMethod::SelfSignedTlsClientAuth => {
            let Some(cert) = &certificate else {
                return Err(fail("no client certificate presented"));
            };
            if let Err(reason) = check_certificate(&client, cert) {
                return Err(fail(&reason));
            }
        }
    }
    // Counted only now that the client proved who it is, so nobody else
    // can spend its budget. A public client proves nothing and its id is
    // shared by every installation of the app: only addresses count for it.
    // An introspecting client (a gateway) asks for every caller behind it:
    // not limited there. Elsewhere (it may also get tokens) it is a client
    // like any other.
    if client.may_introspect && purpose == Purpose::Introspection {
        limits.exempt(source);
    } else if client.method != AuthMethod::None {
        limits
            .admit_client(&client.client_id)
            .map_err(|t| OAuthError::throttled(&t))?;
    }
    audit::client_authenticated(&client.client_id, client.method, thumbprint);
    Ok(AuthenticatedClient {
        client,
        certificate,
    })
}

/// As [`authenticate`], for endpoints only a confidential client may call
/// (introspection, the revocation list, the login app's admin API): a
/// public client (`none`) proves nothing but its id, so it is refused.
pub async fn authenticate_confidential(
    state: &AuthorizationServer,
    authorization: &ClientAuthorization,
    form: &Form,
    certificate: Option<PeerCertificate>,
) -> Result<AuthenticatedClient, OAuthError> {
    let caller = authenticate(state, authorization, form, certificate).await?;
    require_confidential(&caller)?;
    Ok(caller)
}

/// Refuses a public client (`none`), which proves nothing but its id.
fn require_confidential(caller: &AuthenticatedClient) -> Result<(), OAuthError> {
    if caller.client.method == AuthMethod::None {
        let thumbprint = caller.certificate.as_ref().map(PeerCertificate::thumbprint);
        audit::client_rejected(
            &caller.client.client_id,
            "a public client called an endpoint for confidential clients",
            thumbprint,
        );
        return Err(OAuthError::invalid_client(PUBLIC_CLIENT_REFUSED));
    }
    Ok(())
}

/// What a public client gets where only confidential clients are served.
pub const PUBLIC_CLIENT_REFUSED: &str =
    "a public client (token_endpoint_auth_method none) cannot use this endpoint";

/// Why a certificate does not authenticate the client, for the audit log.
fn check_certificate(client: &RegisteredClient, cert: &PeerCertificate) -> Result<(), String> {
    let now = time::OffsetDateTime::now_utc();
    if !cert.identity().validity.contains(now) {
        return Err("certificate expired or not yet valid".into());
    }
    match client.method {
        AuthMethod::TlsClientAuth => {
            match cert.chain_status() {
                ChainStatus::Valid => {}
                ChainStatus::Invalid(why) => {
                    return Err(format!("certificate chain not trusted: {why}"));
                }
                ChainStatus::NoTrustAnchors => {
                    return Err("no client CA bundle configured (tls.client_ca), so tls_client_auth cannot succeed".into());
                }
            }
            let matches = client
                .matcher
                .as_ref()
                .is_some_and(|m| m.matches(cert.identity()));
            if !matches {
                let param = client
                    .matcher
                    .as_ref()
                    .map_or("tls_client_auth_*", |m| m.parameter());
                return Err(format!("certificate does not match registered {param}"));
            }
        }
        AuthMethod::SelfSignedTlsClientAuth
            if !client.self_signed_thumbprints.contains(&cert.thumbprint()) =>
        {
            return Err("certificate is not one registered in the client's jwks".into());
        }
        _ => {}
    }
    Ok(())
}

fn presented_credentials(
    authorization: &ClientAuthorization,
    form: &Form,
) -> Result<Presented, OAuthError> {
    let basic = match &authorization.header {
        AuthorizationHeader::Absent => None,
        AuthorizationHeader::Repeated => {
            return Err(OAuthError::invalid_request(
                "more than one Authorization header",
            ));
        }
        AuthorizationHeader::One(value) => Some(parse_basic(value.as_bytes())?),
    };
    let form_id = form.get("client_id");
    let form_secret = form.get("client_secret");
    match (basic, form_secret) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request(
            "use one client authentication method: HTTP Basic or client_secret in the body, not both",
        )),
        (Some((id, secret)), None) => {
            if form_id.is_some_and(|f| f != id) {
                return Err(OAuthError::invalid_client(
                    "client_id in the body does not match the HTTP Basic credentials",
                ));
            }
            Ok(Presented {
                client_id: id,
                secret: Some((secret, AuthMethod::ClientSecretBasic)),
            })
        }
        (None, secret) => {
            let id = form_id.ok_or_else(|| {
                OAuthError::invalid_client("client authentication required: send client_id (with a client certificate or client_secret) or HTTP Basic credentials")
            })?;
            Ok(Presented {
                client_id: id.to_owned(),
                secret: secret.map(|s| (s.to_owned(), AuthMethod::ClientSecretPost)),
            })
        }
    }
}

/// RFC 6749 §2.3.1: `Basic base64(urlencode(id):urlencode(secret))`.
pub(crate) fn parse_basic(value: &[u8]) -> Result<(String, String), OAuthError> {
    let bad = || OAuthError::invalid_client("malformed HTTP Basic credentials");
    let text = std::str::from_utf8(value).map_err(|_| bad())?;
    let (scheme, b64) = text.trim().split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "only the Basic scheme authenticates clients here",
        ));
    }
    let decoded = STANDARD.decode(b64.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| bad())
    };
    let (id, secret) = (unescape(id)?, unescape(secret)?);
    if id.is_empty() {
        return Err(bad());
    }
    Ok((id, secret))
}
