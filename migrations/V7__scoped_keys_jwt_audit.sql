-- Issue 7, tenancy: scoped, expiring, named API keys stored as keyed
-- hashes; workspaces' JWT verification keys; the audit log of admin changes.

-- Keys created before this migration are unkeyed SHA-256 hashes with every
-- scope; they keep working (hash_kind 'sha256') until rotated.
ALTER TABLE api_keys
    ADD COLUMN name         text NOT NULL DEFAULT '',
    ADD COLUMN environment  text NOT NULL DEFAULT 'live' CHECK (environment ~ '^[a-z0-9]{1,16}$'),
    ADD COLUMN scopes       text[] NOT NULL DEFAULT '{admin}'
        CHECK (scopes <@ ARRAY['emit', 'read', 'admin']::text[] AND cardinality(scopes) > 0),
    ADD COLUMN expires_at   timestamptz,
    ADD COLUMN hash_kind    text NOT NULL DEFAULT 'sha256' CHECK (hash_kind IN ('sha256', 'hmac-sha256')),
    ADD COLUMN created_by   text NOT NULL DEFAULT '',
    ADD COLUMN rotated_to   uuid REFERENCES api_keys (id);
ALTER TABLE api_keys ALTER COLUMN hash_kind SET DEFAULT 'hmac-sha256';
CREATE INDEX api_keys_by_workspace ON api_keys (workspace_id, created_at);

-- Public keys (Ed25519, RS256) or HS256 secrets that sign a workspace's
-- machine tokens. `kid` matches the token header's `kid` when it has one.
CREATE TABLE verification_keys (
    id            uuid PRIMARY KEY,
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kid           text NOT NULL CHECK (kid ~ '^[A-Za-z0-9._-]{1,64}$'),
    algorithm     text NOT NULL CHECK (algorithm IN ('EdDSA', 'RS256', 'HS256')),
    material      bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text NOT NULL DEFAULT '',
    removed_at    timestamptz
);
CREATE UNIQUE INDEX verification_keys_kid ON verification_keys (workspace_id, kid)
    WHERE removed_at IS NULL;

-- Every admin change: who (key prefix or token subject), what, when, and
-- the resource before and after, never with secrets.
CREATE TABLE audit_events (
    id            uuid PRIMARY KEY,
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    actor         text NOT NULL,
    action        text NOT NULL,
    resource      text NOT NULL DEFAULT '',
    before        jsonb,
    after         jsonb,
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_by_workspace ON audit_events (workspace_id, id);
