//! One structured event per security decision, on the `certbound::audit`
//! target. Never a secret, a whole token or a key; untrusted strings are
//! Debug-formatted so they cannot forge log lines.

use certbound_core::{AuthMethod, Thumbprint};
use tracing::{info, warn};

/// A client proved its identity.
pub fn client_authenticated(client_id: &str, method: AuthMethod, thumbprint: Option<Thumbprint>) {
    // `display` renders the thumbprint only when the event is enabled.
    info!(target: "certbound::audit", event = "client_authenticated", client_id = ?client_id, method = %method, x5t_s256 = thumbprint.map(tracing::field::display));
}

/// A client failed to authenticate.
pub fn client_rejected(client_id: &str, reason: &str, thumbprint: Option<Thumbprint>) {
    warn!(target: "certbound::audit", event = "client_authentication_failed", client_id = ?client_id, reason, x5t_s256 = thumbprint.map(tracing::field::display));
}

/// An access token was issued.
pub fn token_issued(jti: &str, client_id: &str, bound: bool, format: &str, scope: &str) {
    info!(target: "certbound::audit", event = "token_issued", jti, client_id = ?client_id, bound, format, scope = ?scope);
}

/// A token request was refused after authentication.
pub fn token_refused(client_id: &str, reason: &str) {
    warn!(target: "certbound::audit", event = "token_refused", client_id = ?client_id, reason);
}

/// A token was introspected.
pub fn introspected(caller: &str, jti: Option<&str>, active: bool) {
    info!(target: "certbound::audit", event = "token_introspected", caller = ?caller, jti, active);
}

/// An introspection was answered `active: false` for a live token because
/// the caller may not see it.
pub fn introspection_refused(caller: &str, jti: &str, reason: &str) {
    warn!(target: "certbound::audit", event = "introspection_refused", caller = ?caller, jti, reason);
}

/// The revocation list was read (or refused).
pub fn revocation_list_read(caller: &str, entries: usize, allowed: bool) {
    if allowed {
        info!(target: "certbound::audit", event = "revocation_list_read", caller = ?caller, entries);
    } else {
        warn!(target: "certbound::audit", event = "revocation_list_refused", caller = ?caller, reason = "not registered with may_introspect");
    }
}

/// A revocation request was handled.
pub fn revoked(caller: &str, jti: Option<&str>, revoked: bool) {
    info!(target: "certbound::audit", event = "token_revoked", caller = ?caller, jti, revoked);
}

/// A client asked to revoke a token issued to another client; nothing changed.
pub fn revocation_refused(caller: &str, jti: &str, owner: &str) {
    warn!(target: "certbound::audit", event = "token_revocation_refused", caller = ?caller, jti, owner = ?owner, reason = "the token was issued to another client");
}

/// An authorization code was redeemed; `grant` names what it created.
pub fn code_redeemed(client_id: &str, grant: &str, refresh_token: bool) {
    info!(target: "certbound::audit", event = "code_redeemed", client_id = ?client_id, grant = %short(grant), refresh_token);
}

/// An authorization code was presented again; its grant is revoked.
pub fn code_replayed(client_id: &str, grant: &str) {
    warn!(target: "certbound::audit", event = "code_replayed", client_id = ?client_id, grant = %short(grant), reason = "authorization code used twice: every token issued from it is revoked");
}

/// A refresh token was used (rotated or not).
pub fn refreshed(client_id: &str, grant: &str, rotated: bool) {
    info!(target: "certbound::audit", event = "token_refreshed", client_id = ?client_id, grant = %short(grant), rotated);
}

/// A rotated refresh token was presented again after its grace window.
pub fn refresh_replayed(client_id: &str, grant: &str) {
    warn!(target: "certbound::audit", event = "refresh_token_replayed", client_id = ?client_id, grant = %short(grant), reason = "a rotated refresh token was reused: the whole grant is revoked");
}

/// A grant was revoked at `/revoke`.
pub fn grant_revoked(caller: &str, grant: &str, revoked: bool) {
    info!(target: "certbound::audit", event = "grant_revoked", caller = ?caller, grant = %short(grant), revoked);
}

/// The first characters of a grant id: enough to correlate log lines, and
/// the id is not a credential anyway (tokens are looked up by their hash).
fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// An authorization request was accepted and its interaction started.
pub fn interaction_started(client_id: &str, scope: &str) {
    info!(target: "certbound::audit", event = "authorization_started", client_id = ?client_id, scope = ?scope);
}

/// An authorization request was refused; `redirect_uri` is set when the
/// error went back to the client, unset when only an error page was shown.
pub fn authorization_refused(redirect_uri: Option<&str>, error: &str, description: &str) {
    warn!(target: "certbound::audit", event = "authorization_refused", redirected_to = ?redirect_uri, error, description = ?description);
}

/// Someone signed in to an interaction (built-in page or login app).
pub fn interaction_login(client_id: &str, user_id: &str) {
    info!(target: "certbound::audit", event = "interaction_login", client_id = ?client_id, user_id = ?user_id);
}

/// A sign-in failed; `reason` is the real one (the person sees one generic
/// message). The password is never logged.
pub fn login_failed(
    client_id: &str,
    username: &str,
    address: Option<std::net::IpAddr>,
    reason: &str,
) {
    warn!(target: "certbound::audit", event = "login_failed", client_id = ?client_id, username = ?username, address = address.map(tracing::field::display), reason);
}

/// A sign-in was refused by the failed-login backoff.
pub fn login_throttled(
    client_id: &str,
    username: &str,
    address: Option<std::net::IpAddr>,
    retry_after: u64,
) {
    warn!(target: "certbound::audit", event = "login_throttled", client_id = ?client_id, username = ?username, address = address.map(tracing::field::display), retry_after);
}

/// A request was refused by a rate limit (`limit`: `address` or `client`);
/// `client_id` is the authenticated client's, for the client limit.
pub fn rate_limited(
    limit: &str,
    client_id: Option<&str>,
    address: Option<std::net::IpAddr>,
    retry_after: u64,
) {
    warn!(target: "certbound::audit", event = "rate_limited", limit, client_id = ?client_id, address = address.map(tracing::field::display), retry_after);
}

/// A user approved scopes for a client.
pub fn consent_granted(client_id: &str, user_id: &str, scope: &str, remembered: bool) {
    info!(target: "certbound::audit", event = "consent_granted", client_id = ?client_id, user_id = ?user_id, scope = ?scope, remembered);
}

/// An interaction ended without a code.
pub fn interaction_rejected(client_id: &str, user_id: Option<&str>, error: &str) {
    warn!(target: "certbound::audit", event = "authorization_rejected", client_id = ?client_id, user_id = ?user_id, error);
}

/// An authorization code was issued (never the code itself).
pub fn code_issued(client_id: &str, user_id: &str, scope: &str) {
    info!(target: "certbound::audit", event = "code_issued", client_id = ?client_id, user_id = ?user_id, scope = ?scope);
}

/// A login app drove an interaction through the admin API.
pub fn admin_step(app: &str, step: &str, client_id: &str) {
    info!(target: "certbound::audit", event = "interaction_admin_step", app = ?app, step, client_id = ?client_id);
}

/// A client without the admin scope called the admin API.
pub fn admin_refused(caller: &str, scope: &str) {
    warn!(target: "certbound::audit", event = "interaction_admin_refused", caller = ?caller, missing_scope = ?scope);
}

/// A user was added (`certbound users add` or another admin path).
pub fn user_added(username: &str, user_id: &str) {
    info!(target: "certbound::audit", event = "user_added", username = ?username, user_id);
}

/// A user record changed: `change` is `password_set`, `password_rehashed`,
/// `disabled` or `enabled`.
pub fn user_changed(username: &str, user_id: &str, change: &str) {
    info!(target: "certbound::audit", event = "user_changed", username = ?username, user_id, change);
}

/// A user was removed, with their consents and grants.
pub fn user_removed(username: &str, user_id: &str) {
    info!(target: "certbound::audit", event = "user_removed", username = ?username, user_id);
}

/// A user signed in with the right password.
pub fn login_accepted(username: &str, user_id: &str) {
    info!(target: "certbound::audit", event = "login_accepted", username = ?username, user_id);
}

/// A login was refused; `reason` is `unknown_user`, `wrong_password` or
/// `disabled` (the page shows one message for all three).
pub fn login_refused(username: &str, reason: &str) {
    warn!(target: "certbound::audit", event = "login_refused", username = ?username, reason);
}
