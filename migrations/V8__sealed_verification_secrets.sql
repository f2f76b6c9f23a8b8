-- HS256 verification secrets at rest are AES-256-GCM ciphertexts, as
-- connection credentials are (V6): key_id names the master key
-- (secrets.keys.<id>) that sealed `ciphertext`, which is
-- nonce (12 bytes) || ciphertext || tag, bound to the workspace and the
-- verification key id as associated data; `material` is left empty.
-- Public keys (EdDSA, RS256) stay in `material` and never have a ciphertext.
ALTER TABLE verification_keys
    ADD COLUMN key_id      text,
    ADD COLUMN ciphertext  bytea,
    ADD CONSTRAINT verification_keys_sealed_pair
        CHECK ((key_id IS NULL) = (ciphertext IS NULL)),
    ADD CONSTRAINT verification_keys_sealed_hs256_only
        CHECK (ciphertext IS NULL OR (algorithm = 'HS256' AND material = ''));

-- HS256 rows written before this version keep their secret in `material`
-- (ciphertext NULL) until it is sealed: the registry does it at start, as
-- does `switchyard keys rotate`.
CREATE INDEX verification_keys_plaintext ON verification_keys (id)
    WHERE algorithm = 'HS256' AND ciphertext IS NULL;
CREATE INDEX verification_keys_by_key ON verification_keys (key_id)
    WHERE key_id IS NOT NULL;
