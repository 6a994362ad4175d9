-- certbound schema, version 1.
--
-- This one file runs unchanged on SQLite and PostgreSQL, so it uses only
-- TEXT and BIGINT columns (times are Unix seconds) and SQL both accept.
-- Never edit it once released: sqlx records its checksum. Add a new
-- numbered file instead.

-- Registered OAuth clients. `metadata` is JSON owned by the server crate.
CREATE TABLE clients (
    client_id   TEXT   NOT NULL PRIMARY KEY,
    metadata    TEXT   NOT NULL,
    secret_hash TEXT   NULL,
    created_at  BIGINT NOT NULL
);

-- Token-signing keys. The active key is the one with `retired_at IS NULL`;
-- retired keys stay in the JWKS until `publish_until`.
CREATE TABLE signing_keys (
    kid             TEXT   NOT NULL PRIMARY KEY,
    alg             TEXT   NOT NULL,
    private_key_pem TEXT   NOT NULL,
    public_jwk      TEXT   NOT NULL,
    created_at      BIGINT NOT NULL,
    retired_at      BIGINT NULL,
    publish_until   BIGINT NULL
);

-- At most one active key: every active row indexes the same constant, so a
-- second one is a unique violation. This is what makes concurrent first
-- starts safe (both engines accept a partial index on an expression).
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((1)) WHERE retired_at IS NULL;

-- Opaque access tokens, by SHA-256 of the token value.
CREATE TABLE opaque_tokens (
    token_hash   TEXT   NOT NULL PRIMARY KEY,
    jti          TEXT   NOT NULL UNIQUE,
    client_id    TEXT   NOT NULL,
    subject      TEXT   NOT NULL,
    scope        TEXT   NOT NULL,
    audience     TEXT   NOT NULL,
    cnf_x5t_s256 TEXT   NULL,
    issued_at    BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT NULL
);

CREATE INDEX opaque_tokens_expires_at ON opaque_tokens (expires_at);

-- Revoked JWT access tokens, kept until they would have expired anyway.
CREATE TABLE revoked_jtis (
    jti        TEXT   NOT NULL PRIMARY KEY,
    client_id  TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL
);

CREATE INDEX revoked_jtis_expires_at ON revoked_jtis (expires_at);
