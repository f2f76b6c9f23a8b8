-- GetDeliveryStats reads a workspace's attempts of the last hour (the
-- console's chart and per-connection success rates).
CREATE INDEX delivery_attempts_by_time ON delivery_attempts (workspace_id, started_at);
