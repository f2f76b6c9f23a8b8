-- Issue 16, retention: events, deliveries and delivery attempts become
-- tables partitioned by day, so history older than every workspace's
-- period is removed by dropping a day's partitions, not by deleting rows.
--
-- * Ids are UUIDv7: the first 48 bits are the Unix time in ms, so a day is
--   an id range. `events` is partitioned on `id`, `deliveries` on `id` and
--   `delivery_attempts` on `delivery_id`, with the same day boundaries.
-- * A delivery's id is derived from its (event, rule): the event's 48-bit
--   time followed by bits of a hash of the pair (`DeliveryId::for_event_rule`).
--   Its primary key conflict therefore IS routing's exactly-once guarantee
--   (a partitioned table cannot keep `UNIQUE (event_id, rule_id)`, which
--   lacks the partition key), and a delivery lands in its event's day, so
--   one day is dropped from the three tables at once. Deliveries routed
--   before this migration keep their (random UUIDv7) ids; routing an event
--   older than `delivery_id_scheme.deterministic_from` again checks for them
--   by (event, rule) instead.
-- * The foreign keys between the three tables (and from events_unrouted)
--   go: they would make every drop of a partition check or cascade into the
--   others, while the three are dropped together by day anyway. The
--   retention loop deletes the rows a foreign key used to cascade to.
-- * `UNIQUE (workspace_id, idempotency_key)` cannot hold on a table
--   partitioned by time: `idempotency_keys` (plain) keeps the guarantee, and
--   is pruned only once a key's event is gone.
-- * There is no DEFAULT partition: the service creates partitions a week
--   ahead (`switchyard_create_day_partitions`), and a DEFAULT partition would
--   forbid `DETACH PARTITION … CONCURRENTLY` and be scanned under lock each
--   time a partition is added.

-- The lowest UUIDv7 of a moment (its millisecond).
CREATE FUNCTION switchyard_time_bound(at timestamptz) RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT (substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-0000-0000-000000000000')::uuid
    FROM (SELECT lpad(to_hex(floor(extract(epoch FROM at) * 1000)::bigint), 12, '0') AS h) AS t
$$;

-- The lowest UUIDv7 of a UTC day.
CREATE FUNCTION switchyard_day_bound(day date) RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT switchyard_time_bound(day::timestamp AT TIME ZONE 'UTC')
$$;

-- The UTC day of a UUIDv7.
CREATE FUNCTION switchyard_uuid_day(id uuid) RETURNS date
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT (to_timestamp(('x' || substr(replace(id::text, '-', ''), 1, 12))::bit(48)::bigint / 1000.0)
            AT TIME ZONE 'UTC')::date
$$;

-- Creates the missing day partitions of the three tables from `first_day`
-- to `last_day` (inclusive); returns how many it created. A partition is
-- created apart and then attached, which locks the parent only in SHARE
-- UPDATE EXCLUSIVE mode: inserts (emits, routing) go on meanwhile.
CREATE FUNCTION switchyard_create_day_partitions(first_day date, last_day date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    day      date;
    parent   text;
    part     text;
    created  integer := 0;
BEGIN
    FOR day IN SELECT generate_series(first_day, last_day, interval '1 day')::date LOOP
        FOREACH parent IN ARRAY ARRAY['events', 'deliveries', 'delivery_attempts'] LOOP
            part := parent || '_p' || to_char(day, 'YYYYMMDD');
            CONTINUE WHEN to_regclass(part) IS NOT NULL;
            EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                           part, parent);
            EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                           parent, part, switchyard_day_bound(day), switchyard_day_bound(day + 1));
            created := created + 1;
        END LOOP;
    END LOOP;
    RETURN created;
END
$$;

-- Per-workspace periods: metadata (events, deliveries, attempts) and
-- payloads (event payloads, mapped delivery bodies), in days.
ALTER TABLE workspaces
    ADD COLUMN retention_days integer NOT NULL DEFAULT 30 CHECK (retention_days BETWEEN 1 AND 3650),
    ADD COLUMN payload_retention_days integer CHECK (payload_retention_days >= 1),
    ADD CONSTRAINT workspaces_payload_retention_check
        CHECK (payload_retention_days IS NULL OR payload_retention_days <= retention_days);

ALTER TABLE events_unrouted DROP CONSTRAINT events_unrouted_event_id_fkey;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_event_id_fkey;
ALTER TABLE delivery_attempts DROP CONSTRAINT delivery_attempts_delivery_id_fkey;

-- The old tables step aside (with their index names, which the new ones take).
ALTER TABLE events RENAME TO events_v12;
ALTER INDEX events_pkey RENAME TO events_v12_pkey;
ALTER INDEX events_workspace_id_idempotency_key_key RENAME TO events_v12_key;
DROP INDEX events_by_type;
ALTER TABLE deliveries RENAME TO deliveries_v12;
ALTER INDEX deliveries_pkey RENAME TO deliveries_v12_pkey;
ALTER INDEX deliveries_event_id_rule_id_key RENAME TO deliveries_v12_key;
DROP INDEX deliveries_by_event, deliveries_due, deliveries_leased, deliveries_by_connection,
           deliveries_unenqueued, deliveries_dead;
ALTER TABLE delivery_attempts RENAME TO delivery_attempts_v12;
ALTER INDEX delivery_attempts_pkey RENAME TO delivery_attempts_v12_pkey;
DROP INDEX delivery_attempts_by_time;

-- A pruned payload is NULL (GetEvent says so).
CREATE TABLE events (LIKE events_v12 INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (id);
ALTER TABLE events ALTER COLUMN payload DROP NOT NULL;
ALTER TABLE events ADD PRIMARY KEY (id),
    ADD CONSTRAINT events_workspace_fkey FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE;
CREATE INDEX events_by_type ON events (workspace_id, event_type, received_at);
-- A workspace's events in time order: retention walks a workspace's old
-- rows through it (and `ListEvents` pages by it).
CREATE INDEX events_by_workspace ON events (workspace_id, id);

CREATE TABLE deliveries (LIKE deliveries_v12 INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (id);
ALTER TABLE deliveries ADD PRIMARY KEY (id),
    ADD CONSTRAINT deliveries_workspace_fkey FOREIGN KEY (workspace_id)
        REFERENCES workspaces (id) ON DELETE CASCADE,
    ADD CONSTRAINT deliveries_rule_fkey FOREIGN KEY (rule_id) REFERENCES rules (id),
    ADD CONSTRAINT deliveries_connection_fkey FOREIGN KEY (connection_id) REFERENCES connections (id);
-- By event (routing's count, history): also serves (event, rule) look-ups.
CREATE INDEX deliveries_by_event ON deliveries (event_id, rule_id);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'retrying');
CREATE INDEX deliveries_leased ON deliveries (lease_expires_at) WHERE status = 'delivering';
CREATE INDEX deliveries_by_connection ON deliveries (workspace_id, connection_id, created_at);
CREATE INDEX deliveries_unenqueued ON deliveries (created_at)
    WHERE status = 'pending' AND enqueued_at IS NULL;
CREATE INDEX deliveries_dead ON deliveries (workspace_id, connection_id, created_at)
    WHERE status = 'dead';

CREATE TABLE delivery_attempts (LIKE delivery_attempts_v12 INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (delivery_id);
ALTER TABLE delivery_attempts ADD PRIMARY KEY (delivery_id, attempt);
CREATE INDEX delivery_attempts_by_time ON delivery_attempts (workspace_id, started_at);

-- Partitions for every day that has rows, and a week ahead.
SELECT switchyard_create_day_partitions(
    LEAST(current_date,
          (SELECT switchyard_uuid_day(id) FROM events_v12 ORDER BY id LIMIT 1),
          (SELECT switchyard_uuid_day(id) FROM deliveries_v12 ORDER BY id LIMIT 1),
          (SELECT switchyard_uuid_day(delivery_id) FROM delivery_attempts_v12
           ORDER BY delivery_id LIMIT 1)),
    current_date + 7);

INSERT INTO events SELECT * FROM events_v12;
INSERT INTO deliveries SELECT * FROM deliveries_v12;
INSERT INTO delivery_attempts SELECT * FROM delivery_attempts_v12;

CREATE TABLE idempotency_keys (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    key           text NOT NULL,
    event_id      uuid NOT NULL,
    PRIMARY KEY (workspace_id, key)
);
-- Pruning walks a workspace's keys by event (time) order.
CREATE INDEX idempotency_keys_by_event ON idempotency_keys (workspace_id, event_id);
INSERT INTO idempotency_keys (workspace_id, key, event_id)
SELECT workspace_id, idempotency_key, id FROM events_v12 WHERE idempotency_key IS NOT NULL;

-- Where payload pruning of each workspace has got to: every event of the
-- workspace at or below `payload_pruned_through` has no payload any more
-- (one waiting for a delivery to finish stays above it), so a run walks
-- only the events after it.
CREATE TABLE retention_progress (
    workspace_id            uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    payload_pruned_through  uuid NOT NULL
);

-- Events before this point may have deliveries with random ids.
CREATE TABLE delivery_id_scheme (
    deterministic_from  uuid NOT NULL
);
INSERT INTO delivery_id_scheme
SELECT switchyard_time_bound(clock_timestamp());

DROP TABLE delivery_attempts_v12, deliveries_v12, events_v12;
