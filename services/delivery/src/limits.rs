//! The Redis layout of per-connection limits, owned by the delivery engine
//! (which writes it, through Lua scripts, and reads the circuit breaker back
//! for the router's `GetConnection` through `DeliveryControlService`, see
//! [`crate::api::control`]). Every key of one connection shares
//! one hash tag, `{<connection id>}`, so a script may touch them all on
//! Redis Cluster too:
//!
//! - `<prefix>:{con_…}:breaker` — a hash: `state` (`closed`, `open`,
//!   `half_open`), `streak` (consecutive failures), `last_error`,
//!   `last_failure_at` and `opened_at` (Unix ms), the half-open probe's
//!   `probe_lease` and `probe_until`, and the failure-ratio window
//!   (`win_start`, `win_total`, `win_failures`); for a connection with
//!   adaptive concurrency also its limit (`aimd_limit`, a fraction), the
//!   time of its last halving (`aimd_drop_at`) and its normal latency
//!   (`aimd_base`, ms).
//! - `<prefix>:{con_…}:slots` — a sorted set of concurrency leases, scored
//!   by expiry (Unix ms): a replica that dies leaves slots that free
//!   themselves.
//! - `<prefix>:{con_…}:rate` — the rate limiter's theoretical arrival time
//!   (GCRA, Unix ms).
//! - `<prefix>:{con_…}:reserved` — a sorted set of deliveries the rate
//!   limiter gave a later slot, scored by that slot's time, so a job that
//!   comes back at its time goes without paying twice.
//!
//! Losing these keys (Redis restarted empty) only forgets limits for a
//! moment and closes breakers; nothing is lost.

use chrono::{DateTime, Utc};
use switchyard_core::redis_conn::RedisConn;

use switchyard_core::ids::ConnectionId;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionKeys {
    pub breaker: String,
    pub slots: String,
    pub rate: String,
    pub reserved: String,
}

impl ConnectionKeys {
    pub fn new(prefix: &str, connection: ConnectionId) -> Self {
        let base = format!("{prefix}:{{{connection}}}");
        Self {
            breaker: format!("{base}:breaker"),
            slots: format!("{base}:slots"),
            rate: format!("{base}:rate"),
            reserved: format!("{base}:reserved"),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BreakerState {
    #[default]
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn parse(text: &str) -> Self {
        match text {
            "open" => Self::Open,
            "half_open" => Self::HalfOpen,
            _ => Self::Closed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

/// What `GetConnection` shows of a connection's circuit breaker.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BreakerSnapshot {
    pub state: BreakerState,
    pub failure_streak: u32,
    pub last_error: String,
    pub last_failure_at: Option<DateTime<Utc>>,
    /// When it last opened; `None` while closed.
    pub opened_at: Option<DateTime<Utc>>,
    /// The adaptive concurrency limit, when one was ever set.
    pub adaptive_limit: Option<f64>,
}

/// Reads the breaker of a connection; a missing key is a closed breaker.
pub async fn read_breaker(
    redis: &RedisConn,
    keys: &ConnectionKeys,
) -> redis::RedisResult<BreakerSnapshot> {
    let fields: Vec<Option<String>> = redis::cmd("HMGET")
        .arg(&keys.breaker)
        .arg(&[
            "state",
            "streak",
            "last_error",
            "last_failure_at",
            "opened_at",
            "aimd_limit",
        ])
        .query_async(&mut redis.clone())
        .await?;
    let field = |index: usize| fields.get(index).cloned().flatten();
    let state = BreakerState::parse(field(0).as_deref().unwrap_or("closed"));
    let time = |index: usize| {
        field(index)
            .and_then(|ms| ms.parse::<i64>().ok())
            .and_then(DateTime::<Utc>::from_timestamp_millis)
    };
    Ok(BreakerSnapshot {
        state,
        failure_streak: field(1).and_then(|s| s.parse().ok()).unwrap_or(0),
        last_error: field(2).unwrap_or_default(),
        last_failure_at: time(3),
        opened_at: if state == BreakerState::Closed {
            None
        } else {
            time(4)
        },
        adaptive_limit: field(5).and_then(|limit| limit.parse().ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_the_connection_hash_tag() {
        let connection = ConnectionId::generate();
        let keys = ConnectionKeys::new("t1", connection);
        let tag = format!("t1:{{{connection}}}:");
        for key in [&keys.breaker, &keys.slots, &keys.rate, &keys.reserved] {
            assert!(key.starts_with(&tag), "{key}");
        }
        assert!(keys.breaker.ends_with(":breaker"));
    }

    #[test]
    fn states_round_trip() {
        for state in [
            BreakerState::Closed,
            BreakerState::Open,
            BreakerState::HalfOpen,
        ] {
            assert_eq!(BreakerState::parse(state.as_str()), state);
        }
        assert_eq!(BreakerState::parse(""), BreakerState::Closed);
    }
}
