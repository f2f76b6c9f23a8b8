-- Trace context stored with the work it belongs to, so work resumed later
-- (the outbox forwarder, the delivery sweeper, manual retries and replays)
-- still joins the event's trace, and history can link to it.
ALTER TABLE events ADD COLUMN traceparent text;
ALTER TABLE deliveries ADD COLUMN traceparent text;
