-- Issue 5: the delivery engine's per-connection controls, attempt triggers
-- and dead-letter replay.
--
-- connections.policy holds the connection's delivery policy as JSON
-- (retry policy, timeouts, rate limit, concurrency cap, circuit breaker);
-- '{}' means every default. state: `active` connections are delivered to,
-- `paused` ones accumulate deliveries (not attempted, not counted) until
-- resumed, `disabled` ones (a 410 Gone, or an operator) turn their
-- deliveries dead without a request, for replay once re-activated.
ALTER TABLE connections
    ADD COLUMN policy jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN state text NOT NULL DEFAULT 'active'
        CHECK (state IN ('active', 'paused', 'disabled')),
    ADD COLUMN state_reason text NOT NULL DEFAULT '',
    ADD COLUMN state_changed_at timestamptz,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
UPDATE connections SET updated_at = created_at;

-- Why the next attempt happens: `scheduled` (the retry policy), `manual`
-- (RetryDelivery) or `replay` (ReplayDeadLetters). The claim copies it to
-- the attempt row; recording the attempt sets it back to `scheduled`.
ALTER TABLE deliveries
    ADD COLUMN next_trigger text NOT NULL DEFAULT 'scheduled'
        CHECK (next_trigger IN ('scheduled', 'manual', 'replay'));
ALTER TABLE delivery_attempts
    ADD COLUMN trigger text NOT NULL DEFAULT 'scheduled'
        CHECK (trigger IN ('scheduled', 'manual', 'replay'));

-- Dead letters per connection (ListDeliveries by status, ReplayDeadLetters).
CREATE INDEX deliveries_dead ON deliveries (workspace_id, connection_id, created_at)
    WHERE status = 'dead';
