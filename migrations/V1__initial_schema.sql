-- Switchyard's initial schema. Every table but workspaces carries
-- workspace_id and every query filters on it: no query crosses a tenant.

CREATE TABLE workspaces (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- API keys are stored only as SHA-256 hashes; `prefix` is the visible start
-- of the key so operators can tell keys apart.
CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    prefix        text NOT NULL,
    key_hash      bytea NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);

CREATE TABLE event_types (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name          text NOT NULL,
    description   text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, name)
);

-- Versions are immutable once written.
CREATE TABLE event_type_versions (
    workspace_id  uuid NOT NULL,
    event_type    text NOT NULL,
    version       integer NOT NULL CHECK (version >= 1),
    json_schema   jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, event_type, version),
    FOREIGN KEY (workspace_id, event_type) REFERENCES event_types (workspace_id, name) ON DELETE CASCADE
);

-- The events table is also the outbox: an event with routed_at NULL has not
-- been handed to the router yet, and the forwarder retries it from here.
CREATE TABLE events (
    id               uuid PRIMARY KEY,
    workspace_id     uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    event_type       text NOT NULL,
    schema_version   integer NOT NULL,
    payload          jsonb NOT NULL,
    idempotency_key  text,
    received_at      timestamptz NOT NULL DEFAULT now(),
    routed_at        timestamptz,
    route_attempts   integer NOT NULL DEFAULT 0,
    next_route_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, idempotency_key)
);
CREATE INDEX events_outbox ON events (next_route_at) WHERE routed_at IS NULL;
CREATE INDEX events_by_type ON events (workspace_id, event_type, received_at);

-- Connections and rules are soft-deleted so delivery history keeps its
-- references.
CREATE TABLE connections (
    id              uuid PRIMARY KEY,
    workspace_id    uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('webhook')),
    config          jsonb NOT NULL,
    signing_secret  text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz
);
CREATE INDEX connections_by_workspace ON connections (workspace_id, id) WHERE deleted_at IS NULL;

CREATE TABLE rules (
    id             uuid PRIMARY KEY,
    workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    event_type     text NOT NULL,
    connection_id  uuid NOT NULL REFERENCES connections (id),
    enabled        boolean NOT NULL DEFAULT true,
    description    text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz
);
CREATE INDEX rules_by_event_type ON rules (workspace_id, event_type) WHERE deleted_at IS NULL;

-- One delivery per (event, rule): routing twice never duplicates one.
-- Postgres is the truth and Redis jobs are hints: the delivery engine's
-- sweeper re-enqueues deliveries that are overdue (their job was lost to a
-- crash or a Redis restart), stamping requeued_at so it does so at most once
-- per grace period.
CREATE TABLE deliveries (
    id                uuid PRIMARY KEY,
    workspace_id      uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    event_id          uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    rule_id           uuid NOT NULL REFERENCES rules (id),
    connection_id     uuid NOT NULL REFERENCES connections (id),
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'delivering', 'succeeded', 'retrying', 'dead')),
    attempt_count     integer NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    lease_expires_at  timestamptz,
    last_error        text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    requeued_at       timestamptz,
    UNIQUE (event_id, rule_id)
);
CREATE INDEX deliveries_by_event ON deliveries (workspace_id, event_id);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'retrying');
CREATE INDEX deliveries_leased ON deliveries (lease_expires_at) WHERE status = 'delivering';
CREATE INDEX deliveries_by_connection ON deliveries (workspace_id, connection_id, created_at);

CREATE TABLE delivery_attempts (
    delivery_id       uuid NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt           integer NOT NULL CHECK (attempt >= 1),
    workspace_id      uuid NOT NULL,
    started_at        timestamptz NOT NULL,
    duration_ms       integer NOT NULL,
    url               text NOT NULL,
    status_code       integer,
    error             text NOT NULL DEFAULT '',
    response_snippet  text NOT NULL DEFAULT '',
    PRIMARY KEY (delivery_id, attempt)
);
