-- Issue 3: each event type has a compatibility mode that new schema
-- versions are checked against, and can be deprecated (emits are still
-- accepted, and flagged). Registries cache these per type and learn of
-- changes through NOTIFY on the `switchyard_registry` channel, sent in the
-- transaction that makes the change.

ALTER TABLE event_types
    ADD COLUMN compatibility text NOT NULL DEFAULT 'backward'
        CHECK (compatibility IN ('backward', 'backward_transitive', 'forward',
                                 'forward_transitive', 'full', 'full_transitive', 'none')),
    ADD COLUMN deprecated boolean NOT NULL DEFAULT false,
    ADD COLUMN deprecation_reason text NOT NULL DEFAULT '',
    ADD COLUMN deprecated_at timestamptz,
    ADD CONSTRAINT event_types_deprecated_at_set CHECK (deprecated = (deprecated_at IS NOT NULL));
