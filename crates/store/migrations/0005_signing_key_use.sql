-- certbound schema: how long tokens signed with each key may live.
--
-- Every server instance records, once per key it loads, the longest
-- access-token lifetime it signs with (`max_token_ttl`) and how long it may
-- go on signing with a key after a rotation before its key cache notices
-- (`max_signing_lag`, its keys.cache_seconds). A rotation keeps the retired
-- key published until the last token it signed has expired: retired_at +
-- max_token_ttl + max_signing_lag + a margin, whatever the rotating
-- process's own configuration says. 0 means "nothing recorded yet".
ALTER TABLE signing_keys ADD COLUMN max_token_ttl BIGINT NOT NULL DEFAULT 0;
ALTER TABLE signing_keys ADD COLUMN max_signing_lag BIGINT NOT NULL DEFAULT 0;
