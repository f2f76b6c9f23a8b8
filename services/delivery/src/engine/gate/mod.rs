//! The gate every attempt passes before its request: per-connection limits
//! shared by all delivery replicas, in the order vector composes them —
//! circuit breaker → concurrency cap → rate limit — plus this process's own
//! per-connection cap ([`local`]).
//!
//! [`Gate::admit`] runs the `ADMIT` script of [`scripts`] on the
//! connection's keys (`crate::limits`); an attempt it holds back
//! gets how long to wait, and the engine parks the job in the delayed set
//! for that long without counting an attempt. [`Gate::finish`] runs
//! `FINISH`: it frees the concurrency slot, moves the breaker and, for a
//! connection with adaptive concurrency, moves its limit ([`Load`] says how
//! the destination coped).
//!
//! Most connections have neither a rate limit nor a concurrency cap and a
//! closed breaker; for them the scripts are skipped while this process's
//! view of the breaker (from the last script reply) is fresh, closed and
//! without failures, and a success needs no script either — so a healthy
//! connection costs no Redis round trip beyond its job. Another replica's
//! opening of the breaker is seen within [`VIEW_TTL`].

mod local;
mod scripts;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::limits::{BreakerState, ConnectionKeys};
use redis::Script;
use switchyard_core::gcra::Allowance;
use switchyard_core::ids::{ConnectionId, DeliveryId};
use switchyard_core::jitter;
use switchyard_core::redis_conn::RedisConn;
use switchyard_core::telemetry::metrics::names;

pub use local::{LocalSlot, LocalSlots};

use super::policy::EffectivePolicy;
use super::retry::Health;

/// How long a breaker state read from Redis is trusted without asking again.
pub const VIEW_TTL: Duration = Duration::from_secs(1);
/// Wait of an attempt held back by this process's per-connection cap.
const LOCAL_WAIT: Duration = Duration::from_millis(500);
/// Wait of an attempt held back by the connection's concurrency cap.
const CONCURRENCY_WAIT: Duration = Duration::from_millis(100);
/// How long an untouched breaker hash is kept.
const BREAKER_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// Longest error text stored in the breaker.
const MAX_ERROR_LEN: usize = 500;

/// Why an attempt was held back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldReason {
    LocalCap,
    Breaker,
    Concurrency,
    RateLimit,
    /// The limits could not be checked (Redis unreachable).
    Unavailable,
}

impl HoldReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LocalCap => "in-process cap",
            Self::Breaker => "circuit breaker",
            Self::Concurrency => "concurrency cap",
            Self::RateLimit => "rate limit",
            Self::Unavailable => "limits unavailable",
        }
    }
}

pub enum Verdict {
    Admitted(Ticket),
    Held { wait: Duration, reason: HoldReason },
}

/// How an attempt's destination coped, for the adaptive limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Load {
    /// It answered with a success.
    Coped,
    /// It timed out, or answered 429 or a 5xx.
    Overloaded,
    /// Anything else (a 4xx, a refused address): says nothing about load.
    Neutral,
}

impl Load {
    /// Reads an attempt's result.
    pub fn of(result: &super::http::SendResult) -> Self {
        match result {
            Ok(response) if (200..300).contains(&response.status) => Self::Coped,
            Ok(response) if response.status == 429 || response.status >= 500 => Self::Overloaded,
            Ok(_) => Self::Neutral,
            Err(super::http::SendError::TimedOut(_)) => Self::Overloaded,
            Err(_) => Self::Neutral,
        }
    }

    fn as_arg(self) -> &'static str {
        match self {
            Self::Coped => "o",
            Self::Overloaded => "x",
            Self::Neutral => "n",
        }
    }
}

/// An admitted attempt: hand it back to [`Gate::finish`].
pub struct Ticket {
    connection: ConnectionId,
    lease: String,
    probe: bool,
    /// Redis's clock when `ADMIT` let it through (0: the script was skipped).
    admitted_at_ms: i64,
    _local: LocalSlot,
}

impl Ticket {
    pub fn is_probe(&self) -> bool {
        self.probe
    }
}

#[derive(Clone, Copy, Debug)]
struct View {
    state: BreakerState,
    streak: u32,
    seen: Instant,
    /// When the breaker half-opens, if it was seen open.
    open_until: Option<Instant>,
}

impl View {
    fn healthy(&self) -> bool {
        self.state == BreakerState::Closed && self.streak == 0 && self.seen.elapsed() < VIEW_TTL
    }
}

/// Cheap to clone.
#[derive(Clone)]
pub struct Gate {
    inner: Arc<Inner>,
}

struct Inner {
    redis: RedisConn,
    prefix: String,
    admit: Script,
    finish: Script,
    local: Arc<LocalSlots>,
    views: Mutex<HashMap<ConnectionId, View>>,
}

impl Gate {
    pub fn new(redis: RedisConn, prefix: &str, local_cap: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                redis,
                prefix: prefix.to_string(),
                admit: Script::new(&scripts::ADMIT),
                finish: Script::new(scripts::FINISH),
                local: LocalSlots::new(local_cap),
                views: Mutex::default(),
            }),
        }
    }

    fn view(&self, connection: ConnectionId) -> Option<View> {
        let views = self.inner.views.lock().ok()?;
        views.get(&connection).copied()
    }

    fn remember(&self, connection: ConnectionId, state: &str, streak: i64) {
        self.remember_open(connection, state, streak, None);
    }

    fn remember_open(
        &self,
        connection: ConnectionId,
        state: &str,
        streak: i64,
        open_for: Option<Duration>,
    ) {
        let open = if state == "closed" { 0.0 } else { 1.0 };
        metrics::gauge!(names::BREAKER_OPEN, "connection" => connection.to_string()).set(open);
        if let Ok(mut views) = self.inner.views.lock() {
            views.insert(
                connection,
                View {
                    state: BreakerState::parse(state),
                    streak: u32::try_from(streak).unwrap_or(u32::MAX),
                    seen: Instant::now(),
                    open_until: open_for.map(|wait| Instant::now() + wait),
                },
            );
        }
    }

    /// True when this process already runs its cap of attempts to
    /// `connection`. Checked before the claim, so a saturated connection's
    /// jobs are set aside without a Postgres round trip ([`Self::admit`]
    /// checks again).
    pub fn is_full(&self, connection: ConnectionId) -> bool {
        self.room(connection) == 0
    }

    /// Attempts to `connection` this process could still start.
    pub fn room(&self, connection: ConnectionId) -> usize {
        let local = &self.inner.local;
        local.cap().saturating_sub(local.in_flight(connection))
    }

    /// How long `connection`'s breaker stays open, as last seen by this
    /// process (within [`VIEW_TTL`]); `None` when it was not seen open.
    /// Checked before the claim, so an open breaker's jobs are parked
    /// without claiming and releasing them in Postgres.
    pub fn open_for(&self, connection: ConnectionId) -> Option<Duration> {
        let view = self.view(connection)?;
        if view.seen.elapsed() >= VIEW_TTL {
            return None;
        }
        let left = view.open_until?.checked_duration_since(Instant::now())?;
        (!left.is_zero()).then(|| spread(left))
    }

    /// Lets the attempt start now, or says how long it must wait.
    #[tracing::instrument(skip_all, fields(connection_id = %connection))]
    pub async fn admit(
        &self,
        connection: ConnectionId,
        delivery: DeliveryId,
        policy: &EffectivePolicy,
    ) -> redis::RedisResult<Verdict> {
        let Some(local) = self.inner.local.try_acquire(connection) else {
            return Ok(held(jittered(LOCAL_WAIT), HoldReason::LocalCap));
        };
        let lease = format!("{:016x}", rand::random::<u64>());
        let breaker_on = policy.breaker.enabled();
        let view_healthy = self.view(connection).is_some_and(|view| view.healthy());
        if !policy.has_shared_limits() && (!breaker_on || view_healthy) {
            return Ok(Verdict::Admitted(Ticket {
                connection,
                lease,
                probe: false,
                admitted_at_ms: 0,
                _local: local,
            }));
        }

        let keys = ConnectionKeys::new(&self.inner.prefix, connection);
        // An interval of 0 tells `ADMIT` there is no rate limit.
        let rate = policy.rate_limit.map_or(
            Allowance {
                interval: 0.0,
                tolerance: 0.0,
            },
            |rate| Allowance::new(rate.interval_ms(), rate.count),
        );
        let (adaptive_min, adaptive_max) = policy
            .adaptive
            .map_or((0, 0), |adaptive| (adaptive.min, adaptive.max));
        let (verdict, wait_ms, state, streak, now_ms): (i64, i64, String, i64, i64) = self
            .inner
            .admit
            .key(&keys.breaker)
            .key(&keys.slots)
            .key(&keys.rate)
            .key(&keys.reserved)
            .arg(delivery.to_string())
            .arg(&lease)
            .arg(millis(policy.lease_ttl()))
            .arg(policy.max_concurrency)
            .arg(rate.interval)
            .arg(rate.tolerance)
            .arg(policy.breaker.cooldown_ms)
            .arg(if breaker_on { 1 } else { 0 })
            .arg(adaptive_min)
            .arg(adaptive_max)
            .invoke_async(&mut self.inner.redis.clone())
            .await?;
        let wait = Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0));
        let open_for = (verdict == 0).then_some(wait);
        self.remember_open(connection, &state, streak, open_for);
        Ok(match verdict {
            1 | 2 => Verdict::Admitted(Ticket {
                connection,
                lease,
                probe: verdict == 2,
                admitted_at_ms: now_ms,
                _local: local,
            }),
            0 => held(spread(wait), HoldReason::Breaker),
            -1 => held(jittered(CONCURRENCY_WAIT), HoldReason::Concurrency),
            _ => held(wait, HoldReason::RateLimit),
        })
    }

    /// Frees the attempt's slots and tells the breaker (and the adaptive
    /// limit) how it went. A failure to reach Redis is logged: the lease
    /// expires by itself.
    #[tracing::instrument(skip_all, fields(connection_id = %ticket.connection))]
    pub async fn finish(
        &self,
        ticket: Ticket,
        (health, load, latency): (Health, Load, Duration),
        error: &str,
        policy: &EffectivePolicy,
    ) {
        let breaker = &policy.breaker;
        let view_healthy = self
            .view(ticket.connection)
            .is_some_and(|view| view.healthy());
        let breaker_needs_it = breaker.enabled()
            && (health == Health::Failure || !view_healthy || breaker.failure_ratio > 0.0);
        if !policy.holds_slot() && !ticket.probe && !breaker_needs_it {
            return;
        }
        let (adaptive_min, adaptive_max) = policy
            .adaptive
            .map_or((0, 0), |adaptive| (adaptive.min, adaptive.max));
        let outcome = match health {
            Health::Success => "s",
            Health::Failure => "f",
            Health::Neutral => "n",
        };
        let error: String = error.chars().take(MAX_ERROR_LEN).collect();
        let keys = ConnectionKeys::new(&self.inner.prefix, ticket.connection);
        let reply: redis::RedisResult<(String, i64, i64)> = self
            .inner
            .finish
            .key(&keys.breaker)
            .key(&keys.slots)
            .arg(&ticket.lease)
            .arg(if breaker.enabled() { outcome } else { "n" })
            .arg(error)
            .arg(breaker.failure_threshold)
            .arg(breaker.failure_ratio)
            .arg(breaker.min_requests)
            .arg(breaker.window_ms)
            .arg(millis(BREAKER_RETENTION))
            .arg(adaptive_min)
            .arg(adaptive_max)
            .arg(load.as_arg())
            .arg(millis(latency))
            .arg(ticket.admitted_at_ms)
            .invoke_async(&mut self.inner.redis.clone())
            .await;
        match reply {
            Ok((state, streak, limit)) => {
                if policy.adaptive.is_some() {
                    metrics::gauge!(
                        names::CONCURRENCY_LIMIT,
                        "connection" => ticket.connection.to_string()
                    )
                    .set(limit as f64);
                }
                if state == "open" && health == Health::Failure {
                    tracing::warn!(streak, "circuit breaker open");
                }
                self.remember(ticket.connection, &state, streak);
            }
            Err(error) => {
                tracing::warn!(%error, "recording the outcome in the breaker failed");
            }
        }
    }
}

fn held(wait: Duration, reason: HoldReason) -> Verdict {
    Verdict::Held { wait, reason }
}

/// `wait` scaled by a uniform factor in [0.8, 1.2].
fn jittered(wait: Duration) -> Duration {
    jitter::jitter(wait, &mut rand::rng())
}

/// `wait` lengthened by up to 20 %, so attempts held by an open breaker do
/// not all come back at the instant it half-opens.
fn spread(wait: Duration) -> Duration {
    jitter::lengthen(wait, &mut rand::rng())
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
