-- Issue 16, part 3: backfills.
--
-- A backfill routes the stored events of a time range through one rule,
-- through the router's ordinary routing statement (deliveries unique per
-- event and rule), so running it twice adds nothing. Its worker pages
-- through the events in id order (UUIDv7: time order) and stores the last
-- event id it routed in `cursor_event_id`, in the transaction that created
-- that page's deliveries: a crash loses at most an uncommitted page, which
-- the next owner routes again from the cursor.
--
-- Any number of routers run the worker: a backfill is owned by the process
-- named in `lease_owner` until `lease_expires_at`; the owner extends the
-- lease with every page, and every page's transaction checks it still owns
-- the lease (and that the backfill is still running), so a crashed owner's
-- backfill is taken over once its lease expires, and a cancelled one stops
-- at the next page.
CREATE TABLE backfills (
    id                  uuid PRIMARY KEY,
    workspace_id        uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    rule_id             uuid NOT NULL REFERENCES rules (id),
    range_from          timestamptz NOT NULL,
    range_to            timestamptz NOT NULL,
    rate_per_second     integer NOT NULL CHECK (rate_per_second > 0),
    state               text NOT NULL DEFAULT 'running'
                        CHECK (state IN ('running', 'completed', 'cancelled', 'failed')),
    cursor_event_id     uuid,
    -- Counted when the backfill was created: an estimate of the work.
    events_total        bigint NOT NULL,
    events_scanned      bigint NOT NULL DEFAULT 0,
    -- Events the rule matched (or failed on): each has one delivery, either
    -- created by the backfill or already there (live routing, an earlier
    -- backfill).
    events_matched      bigint NOT NULL DEFAULT 0,
    deliveries_created  bigint NOT NULL DEFAULT 0,
    deliveries_skipped  bigint NOT NULL DEFAULT 0,
    error               text NOT NULL DEFAULT '',
    lease_owner         text,
    lease_expires_at    timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz,
    CHECK (range_from < range_to)
);

-- One running backfill per rule.
CREATE UNIQUE INDEX backfills_running_per_rule ON backfills (rule_id) WHERE state = 'running';
-- What the workers poll for: running backfills whose lease is free or expired.
CREATE INDEX backfills_runnable ON backfills (lease_expires_at) WHERE state = 'running';
CREATE INDEX backfills_by_workspace ON backfills (workspace_id, id);
