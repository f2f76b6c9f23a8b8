//! The states Postgres stores as text, as enums: a delivery's status, a
//! connection's state and an attempt's trigger.
//!
//! Each enum is written once in [`text_states!`], which gives it the text
//! the column holds ([`as_str`](DeliveryStatus::as_str), `Display`), its
//! parsing (`FromStr`, `TryFrom<&str>`), and the Postgres mapping: `ToSql`
//! binds it as that text and `FromSql` reads it back from any column a
//! `&str` can be read from (`text`, `varchar`, …), refusing text outside the
//! column's `CHECK` constraint. The conversions to and from the API's proto
//! enums follow; their `UNSPECIFIED` has no stored text.
//!
//! SQL may still name a state literally where a partial index's predicate
//! (`WHERE status IN ('pending', 'retrying')`) must match the query's text
//! for the planner to use it; everything else binds these enums.

use std::error::Error;
use std::fmt;
use std::str::FromStr;

use bytes::BytesMut;
use switchyard_proto::v1 as pb;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

/// Text that is not one of a state column's values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a {kind}")]
pub struct UnknownState {
    /// The enum that was parsed (`DeliveryStatus`, …).
    pub kind: &'static str,
    pub text: String,
}

/// The proto enum's `UNSPECIFIED`, which no stored state stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0} is unspecified")]
pub struct Unspecified(pub &'static str);

/// Defines a state enum with its stored texts, parsing, `Display` and the
/// Postgres `ToSql`/`FromSql` of its text column.
macro_rules! text_states {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident => $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            /// Every value, in the order the `CHECK` constraint lists them.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The text the column holds.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownState;

            fn from_str(text: &str) -> Result<Self, UnknownState> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(UnknownState {
                        kind: stringify!($name),
                        text: text.to_string(),
                    }),
                }
            }
        }

        impl TryFrom<&str> for $name {
            type Error = UnknownState;

            fn try_from(text: &str) -> Result<Self, UnknownState> {
                text.parse()
            }
        }

        impl ToSql for $name {
            fn to_sql(
                &self,
                ty: &Type,
                out: &mut BytesMut,
            ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
                self.as_str().to_sql(ty, out)
            }

            fn accepts(ty: &Type) -> bool {
                <&str as ToSql>::accepts(ty)
            }

            to_sql_checked!();
        }

        impl<'a> FromSql<'a> for $name {
            fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
                Ok(<&str as FromSql<'_>>::from_sql(ty, raw)?.parse()?)
            }

            fn accepts(ty: &Type) -> bool {
                <&str as FromSql<'_>>::accepts(ty)
            }
        }
    };
}

text_states! {
    /// `deliveries.status`.
    pub enum DeliveryStatus {
        /// Routed, waiting for its first attempt.
        Pending => "pending",
        /// An attempt is in flight (under a lease).
        Delivering => "delivering",
        Succeeded => "succeeded",
        /// The last attempt failed; another is scheduled.
        Retrying => "retrying",
        /// Every attempt failed, or the failure was permanent; replayable.
        Dead => "dead",
        /// Routing failed (a condition or mapping error): never attempted.
        Failed => "failed",
    }
}

text_states! {
    /// `connections.state`.
    pub enum ConnectionState {
        /// Deliveries are attempted.
        Active => "active",
        /// Deliveries accumulate, not attempted, until resumed.
        Paused => "paused",
        /// Deliveries die without a request (a 410 Gone, or an operator).
        Disabled => "disabled",
        /// The destination rejected the credentials: deliveries wait as if
        /// paused until an update sets new ones.
        NeedsCredentials => "needs_credentials",
    }
}

text_states! {
    /// `deliveries.next_trigger` and `delivery_attempts.trigger`: why an
    /// attempt happens.
    pub enum AttemptTrigger {
        /// The first attempt, or a retry planned by the retry policy.
        Scheduled => "scheduled",
        /// `RetryDelivery`.
        Manual => "manual",
        /// `ReplayDeadLetters`.
        Replay => "replay",
    }
}

impl DeliveryStatus {
    /// Waiting for an attempt (the claim's and the requeue's states).
    pub const fn is_waiting(self) -> bool {
        matches!(self, Self::Pending | Self::Retrying)
    }
}

impl ConnectionState {
    /// The states whose deliveries wait: neither claimed, nor swept, nor
    /// re-enqueued, until the connection is active again.
    pub const HOLDING: &'static [Self] = &[Self::Paused, Self::NeedsCredentials];
}

/// `'paused', 'needs_credentials'`: states as SQL literals, for the text of
/// a statement built once that must name them (see the module doc).
pub fn sql_literals<T: fmt::Display>(states: &[T]) -> String {
    let quoted: Vec<String> = states.iter().map(|state| format!("'{state}'")).collect();
    debug_assert!(
        quoted.iter().all(|q| q.matches('\'').count() == 2),
        "a state's text holds no quote"
    );
    quoted.join(", ")
}

impl From<DeliveryStatus> for pb::DeliveryStatus {
    fn from(status: DeliveryStatus) -> Self {
        match status {
            DeliveryStatus::Pending => Self::Pending,
            DeliveryStatus::Delivering => Self::Delivering,
            DeliveryStatus::Succeeded => Self::Succeeded,
            DeliveryStatus::Retrying => Self::Retrying,
            DeliveryStatus::Dead => Self::Dead,
            DeliveryStatus::Failed => Self::Failed,
        }
    }
}

impl TryFrom<pb::DeliveryStatus> for DeliveryStatus {
    type Error = Unspecified;

    fn try_from(status: pb::DeliveryStatus) -> Result<Self, Unspecified> {
        Ok(match status {
            pb::DeliveryStatus::Unspecified => return Err(Unspecified("DeliveryStatus")),
            pb::DeliveryStatus::Pending => Self::Pending,
            pb::DeliveryStatus::Delivering => Self::Delivering,
            pb::DeliveryStatus::Succeeded => Self::Succeeded,
            pb::DeliveryStatus::Retrying => Self::Retrying,
            pb::DeliveryStatus::Dead => Self::Dead,
            pb::DeliveryStatus::Failed => Self::Failed,
        })
    }
}

impl From<ConnectionState> for pb::ConnectionState {
    fn from(state: ConnectionState) -> Self {
        match state {
            ConnectionState::Active => Self::Active,
            ConnectionState::Paused => Self::Paused,
            ConnectionState::Disabled => Self::Disabled,
            ConnectionState::NeedsCredentials => Self::NeedsCredentials,
        }
    }
}

impl TryFrom<pb::ConnectionState> for ConnectionState {
    type Error = Unspecified;

    fn try_from(state: pb::ConnectionState) -> Result<Self, Unspecified> {
        Ok(match state {
            pb::ConnectionState::Unspecified => return Err(Unspecified("ConnectionState")),
            pb::ConnectionState::Active => Self::Active,
            pb::ConnectionState::Paused => Self::Paused,
            pb::ConnectionState::Disabled => Self::Disabled,
            pb::ConnectionState::NeedsCredentials => Self::NeedsCredentials,
        })
    }
}

impl From<AttemptTrigger> for pb::AttemptTrigger {
    fn from(trigger: AttemptTrigger) -> Self {
        match trigger {
            AttemptTrigger::Scheduled => Self::Scheduled,
            AttemptTrigger::Manual => Self::Manual,
            AttemptTrigger::Replay => Self::Replay,
        }
    }
}

impl TryFrom<pb::AttemptTrigger> for AttemptTrigger {
    type Error = Unspecified;

    fn try_from(trigger: pb::AttemptTrigger) -> Result<Self, Unspecified> {
        Ok(match trigger {
            pb::AttemptTrigger::Unspecified => return Err(Unspecified("AttemptTrigger")),
            pb::AttemptTrigger::Scheduled => Self::Scheduled,
            pb::AttemptTrigger::Manual => Self::Manual,
            pb::AttemptTrigger::Replay => Self::Replay,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_the_check_constraints() {
        let texts = |all: &[&str]| all.join(",");
        let statuses: Vec<_> = DeliveryStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            texts(&statuses),
            "pending,delivering,succeeded,retrying,dead,failed"
        );
        let states: Vec<_> = ConnectionState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(texts(&states), "active,paused,disabled,needs_credentials");
        let triggers: Vec<_> = AttemptTrigger::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(texts(&triggers), "scheduled,manual,replay");
    }

    #[test]
    fn texts_parse_back_and_unknown_text_is_refused() {
        for status in DeliveryStatus::ALL {
            assert_eq!(
                status.as_str().parse::<DeliveryStatus>().ok(),
                Some(*status)
            );
            assert_eq!(
                DeliveryStatus::try_from(status.as_str()).ok(),
                Some(*status)
            );
        }
        for state in ConnectionState::ALL {
            assert_eq!(
                state.to_string().parse::<ConnectionState>().ok(),
                Some(*state)
            );
        }
        for trigger in AttemptTrigger::ALL {
            assert_eq!(
                AttemptTrigger::try_from(trigger.as_str()).ok(),
                Some(*trigger)
            );
        }
        let error = "Pending".parse::<DeliveryStatus>().err();
        assert_eq!(
            error.map(|e| e.to_string()).as_deref(),
            Some("\"Pending\" is not a DeliveryStatus")
        );
    }

    #[test]
    fn proto_enums_map_both_ways() {
        for status in DeliveryStatus::ALL {
            let proto = pb::DeliveryStatus::from(*status);
            assert_eq!(DeliveryStatus::try_from(proto).ok(), Some(*status));
        }
        for state in ConnectionState::ALL {
            let proto = pb::ConnectionState::from(*state);
            assert_eq!(ConnectionState::try_from(proto).ok(), Some(*state));
        }
        for trigger in AttemptTrigger::ALL {
            let proto = pb::AttemptTrigger::from(*trigger);
            assert_eq!(AttemptTrigger::try_from(proto).ok(), Some(*trigger));
        }
        assert!(DeliveryStatus::try_from(pb::DeliveryStatus::Unspecified).is_err());
        assert!(ConnectionState::try_from(pb::ConnectionState::Unspecified).is_err());
        assert!(AttemptTrigger::try_from(pb::AttemptTrigger::Unspecified).is_err());
    }

    #[test]
    fn binds_and_reads_as_text() {
        let mut out = BytesMut::new();
        let bound = ConnectionState::NeedsCredentials.to_sql(&Type::TEXT, &mut out);
        assert!(matches!(bound, Ok(IsNull::No)));
        assert_eq!(&out[..], b"needs_credentials");
        assert!(<DeliveryStatus as ToSql>::accepts(&Type::VARCHAR));
        assert!(!<DeliveryStatus as ToSql>::accepts(&Type::INT4));
        let read = AttemptTrigger::from_sql(&Type::TEXT, b"replay");
        assert_eq!(read.ok(), Some(AttemptTrigger::Replay));
        assert!(DeliveryStatus::from_sql(&Type::TEXT, b"lost").is_err());
    }

    #[test]
    fn holding_states_as_sql() {
        assert_eq!(
            sql_literals(ConnectionState::HOLDING),
            "'paused', 'needs_credentials'"
        );
        assert!(ConnectionState::HOLDING.contains(&ConnectionState::NeedsCredentials));
        assert!(!ConnectionState::HOLDING.contains(&ConnectionState::Disabled));
    }
}
