-- The outbox becomes a table of its own. Marking an event routed used to
-- rewrite its events row (payload included, and every index of the table,
-- since routed_at is in an index predicate): the second-largest write of
-- an event's path. Now ingest adds a small row here in the statement that
-- stores the event, and the router deletes it in the transaction that
-- creates the event's deliveries.
CREATE TABLE events_unrouted (
    event_id        uuid PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    workspace_id    uuid NOT NULL,
    route_attempts  integer NOT NULL DEFAULT 0,
    next_route_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_unrouted_due ON events_unrouted (next_route_at);

INSERT INTO events_unrouted (event_id, workspace_id, route_attempts, next_route_at)
SELECT id, workspace_id, route_attempts, next_route_at FROM events WHERE routed_at IS NULL;

DROP INDEX events_outbox;
ALTER TABLE events
    DROP COLUMN routed_at,
    DROP COLUMN route_attempts,
    DROP COLUMN next_route_at;
