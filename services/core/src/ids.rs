//! Prefixed identifiers. Each is a UUIDv7 (time ordered, index friendly) held
//! as `uuid` in Postgres and shown to users as `<prefix>_<32 hex digits>`, so
//! an id pasted into the wrong field is refused with a clear reason.

use std::fmt;

use uuid::Uuid;

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Uuid);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new, time-ordered id.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// Parses `<prefix>_<hex>`; the error says what was expected.
            pub fn parse(text: &str) -> Result<Self, String> {
                parse_prefixed(text, $prefix).map(Self)
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", $prefix, self.0.simple())
            }
        }
    };
}

prefixed_id!(
    /// A tenant: owns keys, event types, connections, rules and history.
    WorkspaceId,
    "ws"
);
prefixed_id!(
    /// One emitted event.
    EventId,
    "evt"
);
prefixed_id!(
    /// A configured destination.
    ConnectionId,
    "con"
);
prefixed_id!(
    /// Binds an event type to a connection.
    RuleId,
    "rul"
);
prefixed_id!(
    /// One (event, rule) pair and its attempts; also the `webhook-id`.
    DeliveryId,
    "dlv"
);
prefixed_id!(
    /// An API key record (never the key itself).
    ApiKeyId,
    "key"
);
prefixed_id!(
    /// A workspace's JWT verification key.
    VerificationKeyId,
    "vk"
);
prefixed_id!(
    /// One entry of the audit log.
    AuditEventId,
    "aud"
);
prefixed_id!(
    /// A run of past events through one rule.
    BackfillId,
    "bf"
);

impl DeliveryId {
    /// The delivery of `event` through `rule`, always the same id: the
    /// event's 48-bit time (so the delivery lands in its event's day
    /// partition) followed by 74 bits of SHA-256 of the pair. Routing the
    /// pair again conflicts on the primary key, which is routing's
    /// exactly-once guarantee (see `migrations/V13__retention_partitions.sql`).
    pub fn for_event_rule(event: EventId, rule: RuleId) -> Self {
        use sha2::{Digest, Sha256};

        let mut hasher = Sha256::new();
        hasher.update(event.0.as_bytes());
        hasher.update(rule.0.as_bytes());
        let digest = hasher.finalize();
        let mut tail = [0u8; 10];
        tail.copy_from_slice(&digest[..10]);
        let millis = event
            .0
            .as_bytes()
            .iter()
            .take(6)
            .fold(0u64, |millis, byte| (millis << 8) | u64::from(*byte));
        Self(uuid::Builder::from_unix_timestamp_millis(millis, &tail).into_uuid())
    }
}

fn parse_prefixed(text: &str, prefix: &str) -> Result<Uuid, String> {
    let Some(rest) = text
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
    else {
        return Err(format!("must start with `{prefix}_`"));
    };
    if rest.len() != 32 || !rest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("must be `{prefix}_` followed by 32 hex digits"));
    }
    Uuid::parse_str(rest).map_err(|error| format!("is not a valid id: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        let id = EventId::generate();
        let text = id.to_string();
        assert!(text.starts_with("evt_"));
        assert_eq!(text.len(), 4 + 32);
        assert_eq!(EventId::parse(&text), Ok(id));
    }

    #[test]
    fn refuses_wrong_prefix_and_garbage() {
        let id = EventId::generate().to_string();
        assert_eq!(
            ConnectionId::parse(&id),
            Err("must start with `con_`".to_string())
        );
        assert!(EventId::parse("evt_xyz").is_err());
        assert!(EventId::parse("").is_err());
    }

    #[test]
    fn a_delivery_id_is_its_event_and_rule() {
        let event = EventId::generate();
        let (first, second) = (RuleId::generate(), RuleId::generate());
        let delivery = DeliveryId::for_event_rule(event, first);
        assert_eq!(delivery, DeliveryId::for_event_rule(event, first));
        assert_ne!(delivery, DeliveryId::for_event_rule(event, second));
        assert_eq!(delivery.0.get_version_num(), 7);
        // Same millisecond as the event: the same day partition.
        assert_eq!(delivery.0.as_bytes()[..6], event.0.as_bytes()[..6]);
        assert_eq!(
            delivery.0.get_timestamp().map(|t| t.to_unix()),
            event.0.get_timestamp().map(|t| t.to_unix())
        );
    }

    #[test]
    fn ids_are_time_ordered() {
        let first = DeliveryId::generate();
        let second = DeliveryId::generate();
        assert!(first < second);
    }
}
