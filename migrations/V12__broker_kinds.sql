-- Issue 14: broker destinations.
--
-- Two more connection kinds: `rabbitmq` (publish to an exchange with
-- publisher confirms) and `nats` (publish to a JetStream subject and wait
-- for the stream's ack). Their settings live in connections.config like
-- every kind's; a broker user's password is sealed in connection_secrets
-- as `password` (a NATS token as `token`).
ALTER TABLE connections DROP CONSTRAINT IF EXISTS connections_kind_check;
ALTER TABLE connections
    ADD CONSTRAINT connections_kind_check
        CHECK (kind IN ('webhook', 'hubspot', 'mailchimp', 'salesforce', 'rabbitmq', 'nats'));
