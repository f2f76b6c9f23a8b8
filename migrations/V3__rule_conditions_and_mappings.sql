-- Issue 4: rules carry a CEL condition and mapping, a stable optional name
-- (the key of `switchyard rules apply`), and may name a wildcard event type
-- (`lead.*`, `*`). Routers cache compiled rules and learn of changes through
-- NOTIFY on the `switchyard_rules` channel, sent in the changing transaction.

ALTER TABLE rules
    ADD COLUMN condition text NOT NULL DEFAULT '',
    ADD COLUMN mapping text NOT NULL DEFAULT '',
    ADD COLUMN name text,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
UPDATE rules SET updated_at = created_at;
CREATE UNIQUE INDEX rules_name_per_workspace ON rules (workspace_id, name)
    WHERE name IS NOT NULL AND deleted_at IS NULL;

-- A delivery's body is what its rule's mapping built; NULL means the event
-- payload as emitted. A mapping that fails on an event leaves a delivery
-- `failed` with the error in last_error, never attempted.
--
-- enqueued_at is stamped once the delivery's job is in the Redis stream; a
-- pending delivery without it some seconds after creation lost its job to a
-- crash between commit and enqueue, and the router's repair loop enqueues it.
ALTER TABLE deliveries
    ADD COLUMN body jsonb,
    ADD COLUMN enqueued_at timestamptz,
    DROP CONSTRAINT deliveries_status_check,
    ADD CONSTRAINT deliveries_status_check
        CHECK (status IN ('pending', 'delivering', 'succeeded', 'retrying', 'dead', 'failed'));
-- Deliveries routed before this migration had their jobs enqueued (or the
-- delivery engine's sweeper repairs them): do not enqueue them again.
UPDATE deliveries SET enqueued_at = created_at;
CREATE INDEX deliveries_unenqueued ON deliveries (created_at)
    WHERE status = 'pending' AND enqueued_at IS NULL;
