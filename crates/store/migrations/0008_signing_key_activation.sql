-- certbound schema: a rotation publishes the next signing key before any
-- instance signs with it.
--
-- `certbound keys rotate` stores the next key with `activates_at` in the
-- future (keys.prepublish_seconds ahead) and sets the current key's
-- `retired_at` to the same moment: until then verifiers can fetch the new
-- key from /jwks while tokens are still signed with the old one, so no
-- verifier meets a `kid` it has not seen yet. Keys stored before this
-- migration were active from their creation.
ALTER TABLE signing_keys ADD COLUMN activates_at BIGINT NOT NULL DEFAULT 0;
UPDATE signing_keys SET activates_at = created_at;
