//! A connection's delivery policy: how its deliveries are retried, paced
//! and protected. Stored as JSON in `connections.policy` (written by the
//! router, read by the delivery engine at every claim); `{}` means every
//! default, and a field left out keeps its default, so older rows read on.
//!
//! - [`RetryPolicy`]: the configured schedule (`delivery.retry_schedule`) or
//!   exponential backoff; both get ±20 % jitter in the engine.
//! - `permanent_client_errors`: 3xx and 4xx answers (but 408 and 429) fail
//!   the delivery at once instead of being retried.
//! - timeouts: connect and total, per attempt (`None`: the configured ones).
//! - [`RateLimit`], `max_concurrency`: enforced across every delivery replica.
//! - [`BreakerPolicy`]: when the circuit breaker opens and how long it stays
//!   open before one probe.
//! - [`AdaptiveConcurrency`]: a concurrency limit that the engine moves
//!   between `min` and `max` (AIMD) instead of a fixed `max_concurrency`.
//! - [`OrderingPolicy`]: deliveries whose rule gives them an ordering key go
//!   one at a time per key, in event order.
//!
//! Durations are whole milliseconds (`*_ms`), so the stored JSON is plain.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use switchyard_core::error::{ApiError, ApiResult};

/// Everything a connection may set about its deliveries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeliveryPolicy {
    pub retry: RetryPolicy,
    /// 3xx and 4xx answers other than 408 and 429 make the delivery dead at
    /// once; by default they are retried like any failure.
    pub permanent_client_errors: bool,
    /// Time allowed to open a connection; `None`: `delivery.connect_timeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_timeout_ms: Option<u64>,
    /// Time allowed for a whole attempt; `None`: `delivery.request_timeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u64>,
    /// Requests started per period at most, across replicas; `None`: no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// Requests in flight at once at most, across replicas; 0: no limit.
    pub max_concurrency: u32,
    pub circuit_breaker: BreakerPolicy,
    /// Leave out the W3C `traceparent` header; by default webhooks carry it
    /// so receivers can continue the event's trace.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub omit_traceparent: bool,
    /// A limit on requests in flight that adapts to how the destination
    /// copes, shared by replicas; `None`: `max_concurrency` as set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adaptive_concurrency: Option<AdaptiveConcurrency>,
    /// Per-key ordering of keyed deliveries; `None`: no ordering.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ordering: Option<OrderingPolicy>,
}

/// AIMD bounds: the limit starts at `min`, grows by about one per round of
/// successful requests while latency holds, and halves on a timeout, a 429
/// or a 5xx, never leaving `[min, max]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdaptiveConcurrency {
    pub min: u32,
    pub max: u32,
}

/// What a dead-lettered delivery does to the deliveries behind it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadLetterOrdering {
    /// The key waits until the dead delivery is replayed (and succeeds).
    #[default]
    Block,
    /// The key goes on with the next delivery.
    Skip,
}

impl DeadLetterOrdering {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Block => "block",
            Self::Skip => "skip",
        }
    }
}

/// Turns per-key ordering on for a connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrderingPolicy {
    pub dead_letter: DeadLetterOrdering,
}

/// When the next attempt happens after a failure.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RetryPolicy {
    /// The configured schedule (`delivery.retry_schedule`): at once, then
    /// about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h by default.
    #[default]
    Schedule,
    /// `initial × factor^(n-1)` after the n-th failure, at most `cap`, for
    /// `max_attempts` attempts in all (the first included).
    Exponential {
        initial_ms: u64,
        factor: f64,
        cap_ms: u64,
        max_attempts: u32,
    },
}

/// `count` requests per `period_ms`, with bursts of up to `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub count: u32,
    pub period_ms: u64,
}

impl RateLimit {
    /// The time between two requests at the sustained rate.
    pub fn interval_ms(&self) -> f64 {
        self.period_ms as f64 / f64::from(self.count.max(1))
    }
}

/// The circuit breaker: it opens after `failure_threshold` consecutive
/// failures, or when at least `min_requests` outcomes in one window of
/// `window_ms` failed in a share of `failure_ratio` or more; it stays open
/// for `cooldown_ms`, then lets one probe through (half-open), whose
/// success closes it. A threshold (or ratio) of 0 turns that trigger off.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BreakerPolicy {
    pub failure_threshold: u32,
    pub failure_ratio: f64,
    pub min_requests: u32,
    pub window_ms: u64,
    pub cooldown_ms: u64,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            failure_threshold: 10,
            failure_ratio: 0.0,
            min_requests: 20,
            window_ms: 60_000,
            cooldown_ms: 30_000,
        }
    }
}

impl BreakerPolicy {
    /// False when neither trigger can ever open the breaker.
    pub fn enabled(&self) -> bool {
        self.failure_threshold > 0 || self.failure_ratio > 0.0
    }
}

/// Bounds checked by [`DeliveryPolicy::validate`].
pub mod bounds {
    pub const MIN_TIMEOUT_MS: u64 = 100;
    pub const MAX_CONNECT_TIMEOUT_MS: u64 = 60_000;
    pub const MAX_REQUEST_TIMEOUT_MS: u64 = 300_000;
    pub const MIN_RETRY_DELAY_MS: u64 = 10;
    pub const MAX_RETRY_DELAY_MS: u64 = 7 * 24 * 3600 * 1000;
    pub const MAX_FACTOR: f64 = 10.0;
    pub const MAX_ATTEMPTS: u32 = 100;
    pub const MAX_RATE_PERIOD_MS: u64 = 24 * 3600 * 1000;
    pub const MAX_RATE_COUNT: u32 = 1_000_000;
    pub const MAX_CONCURRENCY: u32 = 10_000;
    pub const MAX_COOLDOWN_MS: u64 = 24 * 3600 * 1000;
}

impl DeliveryPolicy {
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout_ms.map(Duration::from_millis)
    }

    pub fn request_timeout(&self) -> Option<Duration> {
        self.request_timeout_ms.map(Duration::from_millis)
    }

    /// The policy stored in a connection row; an unreadable one (written
    /// by a newer release, or by hand) falls back to the defaults.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, String> {
        Self::deserialize(value).map_err(|error| format!("connection policy: {error}"))
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_else(|_| serde_json::json!({}))
    }

    /// Refuses values that make no sense or would hurt; field names are
    /// the API's (`policy.retry.initial`, …).
    pub fn validate(&self) -> ApiResult<()> {
        use bounds::*;
        if let RetryPolicy::Exponential {
            initial_ms,
            factor,
            cap_ms,
            max_attempts,
        } = self.retry
        {
            within(
                "policy.retry.initial",
                initial_ms,
                MIN_RETRY_DELAY_MS,
                MAX_RETRY_DELAY_MS,
            )?;
            if !(1.0..=MAX_FACTOR).contains(&factor) {
                return Err(ApiError::invalid(
                    "policy.retry.factor",
                    format!("must be between 1 and {MAX_FACTOR}"),
                ));
            }
            within("policy.retry.cap", cap_ms, initial_ms, MAX_RETRY_DELAY_MS)?;
            if !(1..=MAX_ATTEMPTS).contains(&max_attempts) {
                return Err(ApiError::invalid(
                    "policy.retry.max_attempts",
                    format!("must be between 1 and {MAX_ATTEMPTS}"),
                ));
            }
        }
        if let Some(connect) = self.connect_timeout_ms {
            within(
                "policy.connect_timeout",
                connect,
                MIN_TIMEOUT_MS,
                MAX_CONNECT_TIMEOUT_MS,
            )?;
        }
        if let Some(request) = self.request_timeout_ms {
            within(
                "policy.request_timeout",
                request,
                MIN_TIMEOUT_MS,
                MAX_REQUEST_TIMEOUT_MS,
            )?;
        }
        if let Some(rate) = self.rate_limit {
            if !(1..=MAX_RATE_COUNT).contains(&rate.count) {
                return Err(ApiError::invalid(
                    "policy.rate_limit.count",
                    format!("must be between 1 and {MAX_RATE_COUNT}"),
                ));
            }
            within(
                "policy.rate_limit.period",
                rate.period_ms,
                1,
                MAX_RATE_PERIOD_MS,
            )?;
        }
        if self.max_concurrency > MAX_CONCURRENCY {
            return Err(ApiError::invalid(
                "policy.max_concurrency",
                format!("must be at most {MAX_CONCURRENCY}"),
            ));
        }
        if let Some(adaptive) = self.adaptive_concurrency {
            if self.max_concurrency > 0 {
                return Err(ApiError::invalid(
                    "policy.adaptive_concurrency",
                    "set either max_concurrency or adaptive_concurrency, not both",
                ));
            }
            if !(1..=MAX_CONCURRENCY).contains(&adaptive.min) {
                return Err(ApiError::invalid(
                    "policy.adaptive_concurrency.min",
                    format!("must be between 1 and {MAX_CONCURRENCY}"),
                ));
            }
            if !(adaptive.min..=MAX_CONCURRENCY).contains(&adaptive.max) {
                return Err(ApiError::invalid(
                    "policy.adaptive_concurrency.max",
                    format!(
                        "must be between min ({}) and {MAX_CONCURRENCY}",
                        adaptive.min
                    ),
                ));
            }
        }
        let breaker = &self.circuit_breaker;
        if !(0.0..=1.0).contains(&breaker.failure_ratio) {
            return Err(ApiError::invalid(
                "policy.circuit_breaker.failure_ratio",
                "must be between 0 and 1",
            ));
        }
        if breaker.failure_ratio > 0.0 {
            if breaker.min_requests == 0 {
                return Err(ApiError::invalid(
                    "policy.circuit_breaker.min_requests",
                    "must be at least 1 when failure_ratio is set",
                ));
            }
            within(
                "policy.circuit_breaker.window",
                breaker.window_ms,
                1000,
                MAX_COOLDOWN_MS,
            )?;
        }
        within(
            "policy.circuit_breaker.cooldown",
            breaker.cooldown_ms,
            MIN_TIMEOUT_MS,
            MAX_COOLDOWN_MS,
        )?;
        Ok(())
    }
}

fn within(field: &str, value_ms: u64, min_ms: u64, max_ms: u64) -> ApiResult<()> {
    if (min_ms..=max_ms).contains(&value_ms) {
        return Ok(());
    }
    let show = |ms: u64| humantime::format_duration(Duration::from_millis(ms)).to_string();
    Err(ApiError::invalid(
        field,
        format!("must be between {} and {}", show(min_ms), show(max_ms)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_json_is_every_default() {
        let policy = DeliveryPolicy::from_json(&serde_json::json!({})).expect("reads");
        assert_eq!(policy, DeliveryPolicy::default());
        assert_eq!(policy.retry, RetryPolicy::Schedule);
        assert_eq!(policy.circuit_breaker.failure_threshold, 10);
        assert!(policy.validate().is_ok());
        assert_eq!(
            policy.to_json(),
            serde_json::json!({
                "retry": {"kind": "schedule"},
                "permanent_client_errors": false,
                "max_concurrency": 0,
                "circuit_breaker": {
                    "failure_threshold": 10, "failure_ratio": 0.0, "min_requests": 20,
                    "window_ms": 60000, "cooldown_ms": 30000
                }
            })
        );
    }

    #[test]
    fn round_trips_every_field() {
        let policy = DeliveryPolicy {
            retry: RetryPolicy::Exponential {
                initial_ms: 500,
                factor: 2.0,
                cap_ms: 60_000,
                max_attempts: 6,
            },
            permanent_client_errors: true,
            connect_timeout_ms: Some(2_000),
            request_timeout_ms: Some(10_000),
            rate_limit: Some(RateLimit {
                count: 50,
                period_ms: 1_000,
            }),
            max_concurrency: 4,
            circuit_breaker: BreakerPolicy {
                failure_ratio: 0.5,
                ..BreakerPolicy::default()
            },
            omit_traceparent: true,
            adaptive_concurrency: None,
            ordering: Some(OrderingPolicy {
                dead_letter: DeadLetterOrdering::Skip,
            }),
        };
        assert!(policy.validate().is_ok());
        assert_eq!(
            DeliveryPolicy::from_json(&policy.to_json()),
            Ok(policy.clone())
        );
        let adaptive = DeliveryPolicy {
            max_concurrency: 0,
            adaptive_concurrency: Some(AdaptiveConcurrency { min: 2, max: 40 }),
            ..policy.clone()
        };
        assert!(adaptive.validate().is_ok());
        assert_eq!(
            DeliveryPolicy::from_json(&adaptive.to_json()),
            Ok(adaptive.clone())
        );
        let field = |policy: DeliveryPolicy| match policy.validate() {
            Err(ApiError::InvalidArgument { field, .. }) => field,
            other => panic!("expected InvalidArgument, got {other:?}"),
        };
        assert_eq!(
            field(DeliveryPolicy {
                max_concurrency: 4,
                ..adaptive.clone()
            }),
            "policy.adaptive_concurrency"
        );
        assert_eq!(
            field(DeliveryPolicy {
                adaptive_concurrency: Some(AdaptiveConcurrency { min: 0, max: 4 }),
                ..adaptive.clone()
            }),
            "policy.adaptive_concurrency.min"
        );
        assert_eq!(
            field(DeliveryPolicy {
                adaptive_concurrency: Some(AdaptiveConcurrency { min: 5, max: 4 }),
                ..adaptive
            }),
            "policy.adaptive_concurrency.max"
        );
        assert_eq!(
            RateLimit {
                count: 50,
                period_ms: 1000
            }
            .interval_ms(),
            20.0
        );
    }

    #[test]
    fn refuses_out_of_range_values_naming_the_field() {
        let field_of = |policy: DeliveryPolicy| match policy.validate() {
            Err(ApiError::InvalidArgument { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        };
        let exponential = |initial_ms, factor, cap_ms, max_attempts| DeliveryPolicy {
            retry: RetryPolicy::Exponential {
                initial_ms,
                factor,
                cap_ms,
                max_attempts,
            },
            ..DeliveryPolicy::default()
        };
        assert_eq!(
            field_of(exponential(1, 2.0, 1000, 3)),
            "policy.retry.initial"
        );
        assert_eq!(
            field_of(exponential(100, 0.5, 1000, 3)),
            "policy.retry.factor"
        );
        assert_eq!(field_of(exponential(100, 2.0, 50, 3)), "policy.retry.cap");
        assert_eq!(
            field_of(exponential(100, 2.0, 1000, 0)),
            "policy.retry.max_attempts"
        );
        let timeout = DeliveryPolicy {
            request_timeout_ms: Some(10),
            ..DeliveryPolicy::default()
        };
        assert_eq!(field_of(timeout), "policy.request_timeout");
        let rate = DeliveryPolicy {
            rate_limit: Some(RateLimit {
                count: 0,
                period_ms: 1000,
            }),
            ..DeliveryPolicy::default()
        };
        assert_eq!(field_of(rate), "policy.rate_limit.count");
        let ratio = DeliveryPolicy {
            circuit_breaker: BreakerPolicy {
                failure_ratio: 1.5,
                ..BreakerPolicy::default()
            },
            ..DeliveryPolicy::default()
        };
        assert_eq!(field_of(ratio), "policy.circuit_breaker.failure_ratio");
    }

    #[test]
    fn unknown_kinds_are_reported() {
        let error = DeliveryPolicy::from_json(&serde_json::json!({"retry": {"kind": "fibonacci"}}));
        assert!(error.is_err());
    }
}
