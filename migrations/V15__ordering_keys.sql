-- Per-key ordering. A rule may name an ordering key (CEL over the event);
-- the router stores its value on each delivery it creates. When the
-- connection's policy turns ordering on, the delivery engine claims a keyed
-- delivery only while no earlier delivery with the same key to the same
-- connection is unfinished (or dead, when dead letters block the key).
-- "Earlier" is event order: (event_id, id), event ids being UUIDv7.
ALTER TABLE rules ADD COLUMN ordering_key text NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN ordering_key text;

-- The claim's "is anything ahead of me" probe and the hand-over's "who is
-- next": only keyed deliveries that can still hold a key back are indexed.
CREATE INDEX deliveries_ordering ON deliveries (connection_id, ordering_key, event_id, id)
    WHERE ordering_key IS NOT NULL AND status IN ('pending', 'retrying', 'delivering', 'dead');
