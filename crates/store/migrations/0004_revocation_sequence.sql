-- certbound schema, version 4.
--
-- Revoked JWTs get a sequence number so resource servers can fetch the
-- revocation list incrementally ("everything after N"). Numbers come from
-- one counter row bumped in the same transaction as the insert: the row
-- lock serialises revocations, so numbers are handed out in commit order
-- and a reader that has seen N can never later find a row below N appear.
CREATE TABLE revocation_sequence (
    id  BIGINT NOT NULL PRIMARY KEY,
    seq BIGINT NOT NULL
);

ALTER TABLE revoked_jtis ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;

-- Rows revoked before this migration get distinct numbers 1..n.
UPDATE revoked_jtis
   SET seq = (SELECT COUNT(*) FROM revoked_jtis AS r WHERE r.jti <= revoked_jtis.jti);

INSERT INTO revocation_sequence (id, seq) SELECT 1, COUNT(*) FROM revoked_jtis;

CREATE INDEX revoked_jtis_seq ON revoked_jtis (seq);
