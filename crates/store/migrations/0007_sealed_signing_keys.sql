-- Private signing keys are sealed (AES-256-GCM) under a key-encryption key
-- (KEK) before they are stored, so a copy of the database alone cannot mint
-- tokens. `kek_id` names the KEK a key is sealed under; NULL marks a key an
-- earlier version stored unsealed (PEM), readable until `certbound keys
-- rewrap` seals it.
ALTER TABLE signing_keys RENAME COLUMN private_key_pem TO private_key;
ALTER TABLE signing_keys ADD COLUMN kek_id TEXT;
