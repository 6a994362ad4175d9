-- certbound schema: people who sign in, and what the authorization code
-- flow keeps between the browser's visit and the tokens.
--
-- Secrets (codes, refresh tokens, interaction handles, CSRF tokens, the
-- browser cookie) are stored as SHA-256 hashes, never as values.

-- `user_id` is the stable subject (`sub`); `username` may change.
-- `password_hash` is a PHC string: algorithm, parameters, salt and hash, so
-- raising the Argon2id cost later needs no schema change.
CREATE TABLE users (
    user_id       TEXT   NOT NULL PRIMARY KEY,
    username      TEXT   NOT NULL UNIQUE,
    password_hash TEXT   NOT NULL,
    display_name  TEXT   NULL,
    email         TEXT   NULL,
    disabled      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- One authorization request on its way through login and consent, driven by
-- the built-in pages or a delegated login app. `request` is JSON owned by
-- the server; `browser_hash` ties it to the browser that started it.
CREATE TABLE interactions (
    interaction_hash TEXT   NOT NULL PRIMARY KEY,
    client_id        TEXT   NOT NULL,
    request          TEXT   NOT NULL,
    browser_hash     TEXT   NOT NULL,
    csrf_hash        TEXT   NOT NULL,
    user_id          TEXT   NULL,
    auth_time        BIGINT NULL,
    consented_scope  TEXT   NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    completed_at     BIGINT NULL,
    -- Set when a login app rejected it: the error (JSON, owned by the
    -- server) the browser carries back to the client.
    rejection        TEXT   NULL
);

CREATE INDEX interactions_expires_at ON interactions (expires_at);

-- Remembered consent: the scopes a user has approved for a client.
CREATE TABLE consents (
    user_id    TEXT   NOT NULL,
    client_id  TEXT   NOT NULL,
    scope      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- What one code redemption granted: every access and refresh token issued
-- from it belongs to the grant, and revoking the grant revokes them all.
-- `cnf_x5t_s256` binds the refresh tokens of public clients (RFC 8705 §4).
CREATE TABLE grants (
    grant_id     TEXT   NOT NULL PRIMARY KEY,
    client_id    TEXT   NOT NULL,
    user_id      TEXT   NOT NULL,
    scope        TEXT   NOT NULL,
    cnf_x5t_s256 TEXT   NULL,
    auth_time    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT NOT NULL,
    revoked_at   BIGINT NULL
);

CREATE INDEX grants_user_id ON grants (user_id);
CREATE INDEX grants_expires_at ON grants (expires_at);

-- Authorization codes, single use. `grant_id` is set by the redemption that
-- won, so a replay finds and revokes what it issued (RFC 6749 §4.1.2).
CREATE TABLE authorization_codes (
    code_hash      TEXT   NOT NULL PRIMARY KEY,
    client_id      TEXT   NOT NULL,
    user_id        TEXT   NOT NULL,
    redirect_uri   TEXT   NOT NULL,
    -- 1 when the authorization request carried `redirect_uri` (then the
    -- token request must repeat it, RFC 6749 §4.1.3), 0 when it was implied.
    redirect_uri_given BIGINT NOT NULL DEFAULT 0,
    scope          TEXT   NOT NULL,
    code_challenge TEXT   NOT NULL,
    nonce          TEXT   NULL,
    auth_time      BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    redeemed_at    BIGINT NULL,
    grant_id       TEXT   NULL
);

CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at);

-- Refresh tokens. A rotated token keeps, until its grace window ends, its
-- successor's token response sealed under a key derived from the rotated
-- token itself: only its holder can read it back after a lost response.
CREATE TABLE refresh_tokens (
    token_hash     TEXT   NOT NULL PRIMARY KEY,
    grant_id       TEXT   NOT NULL,
    issued_at      BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    rotated_at     BIGINT NULL,
    successor_hash TEXT   NULL,
    sealed_response TEXT  NULL
);

CREATE INDEX refresh_tokens_grant_id ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

-- Access tokens issued under a grant, so revoking the grant can list them.
CREATE TABLE grant_access_tokens (
    jti        TEXT   NOT NULL PRIMARY KEY,
    grant_id   TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX grant_access_tokens_grant_id ON grant_access_tokens (grant_id);
