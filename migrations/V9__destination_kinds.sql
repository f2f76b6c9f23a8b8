-- Issue 12: destinations behind one seam.
--
-- connections.kind names the variant of the shared connection config
-- (`switchyard_core::connection`); connections.config keeps its settings,
-- unchanged for webhooks. Credentials of every kind live sealed in
-- connection_secrets (the webhook's signing secret and headers as before,
-- HubSpot's `token`, Mailchimp's `api_key`, Salesforce's
-- `client_secret`).
ALTER TABLE connections DROP CONSTRAINT IF EXISTS connections_kind_check;
ALTER TABLE connections
    ADD CONSTRAINT connections_kind_check CHECK (kind IN ('webhook', 'hubspot', 'mailchimp', 'salesforce'));

-- `needs_credentials`: the destination rejected the connection's
-- credentials; like `paused`, its deliveries are not claimed (no attempt
-- spent) until new credentials make it active again.
ALTER TABLE connections DROP CONSTRAINT IF EXISTS connections_state_check;
ALTER TABLE connections
    ADD CONSTRAINT connections_state_check
        CHECK (state IN ('active', 'paused', 'disabled', 'needs_credentials'));

-- Attempt rows keep what every kind has — the target (a webhook's URL, an
-- API's endpoint), the HTTP status, the response snippet, the duration —
-- and what is particular to a kind as JSON in `detail` (always with its
-- `kind`). Existing rows are webhook attempts: their URL becomes the
-- target as it is.
ALTER TABLE delivery_attempts RENAME COLUMN url TO target;
ALTER TABLE delivery_attempts ADD COLUMN detail jsonb NOT NULL DEFAULT '{}'::jsonb;
UPDATE delivery_attempts SET detail = '{"kind": "webhook", "method": "POST"}'::jsonb;
