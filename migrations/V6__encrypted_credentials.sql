-- Connection credentials at rest are AES-256-GCM ciphertexts, one row per
-- secret: the signing secret (`signing_secret`), the previous one during a
-- rotation's grace period (`signing_secret.previous`, with expires_at), and
-- each credential-like static header (`header.<name>`; the header names are
-- listed in connections.config->'credential_headers'). key_id names the
-- master key (secrets.keys.<id>) that sealed `ciphertext`, which is
-- nonce (12 bytes) || ciphertext || tag, bound to the connection id and
-- field as associated data.
CREATE TABLE connection_secrets (
    connection_id  uuid NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    field          text NOT NULL CHECK (field <> ''),
    key_id         text NOT NULL,
    ciphertext     bytea NOT NULL,
    expires_at     timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, field)
);
CREATE INDEX connection_secrets_by_key ON connection_secrets (key_id);

-- The plain-text column stays only until the rows written before this
-- version are sealed (the router does it at start, as does
-- `switchyard keys rotate`), which sets it to NULL; new rows never fill it.
ALTER TABLE connections ALTER COLUMN signing_secret DROP NOT NULL;
CREATE INDEX connections_plaintext_secrets ON connections (id) WHERE signing_secret IS NOT NULL;
