//! The policy one attempt runs under: the connection's stored
//! [`DeliveryPolicy`] with the configured defaults filled in.
//!
//! The request timeout is clamped below the visibility timeout, so an
//! attempt still in flight is never reclaimed by another consumer whatever
//! a connection asks for. Concurrency leases and half-open probes are held
//! for the request timeout plus a margin, so a replica that dies mid-request
//! frees them by themselves.

use std::time::Duration;

use switchyard_core::config::DeliveryConfig;
use switchyard_delivery_model::policy::{
    AdaptiveConcurrency, BreakerPolicy, DeliveryPolicy, RateLimit, RetryPolicy,
};

use super::retry::RetryLogic;
use super::schedule::RetrySchedule;

/// Time a lease outlives the request, to record the outcome.
const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// Time the visibility timeout keeps above any request timeout.
const VISIBILITY_MARGIN: Duration = Duration::from_secs(1);

/// The configured defaults, resolved once.
#[derive(Clone, Debug)]
pub struct Defaults {
    schedule: RetrySchedule,
    connect_timeout: Duration,
    request_timeout: Duration,
    max_request_timeout: Duration,
}

impl Defaults {
    pub fn new(config: &DeliveryConfig) -> Self {
        let max_request_timeout = config
            .visibility_timeout
            .saturating_sub(VISIBILITY_MARGIN)
            .max(config.request_timeout);
        Self {
            schedule: RetrySchedule::fixed(config.retry_schedule.clone()),
            connect_timeout: config.connect_timeout,
            request_timeout: config.request_timeout,
            max_request_timeout,
        }
    }

    /// The policy for a connection's stored one.
    pub fn resolve(&self, stored: &DeliveryPolicy) -> EffectivePolicy {
        let schedule = match stored.retry {
            RetryPolicy::Schedule => self.schedule.clone(),
            RetryPolicy::Exponential {
                initial_ms,
                factor,
                cap_ms,
                max_attempts,
            } => RetrySchedule::Exponential {
                initial: Duration::from_millis(initial_ms),
                factor,
                cap: Duration::from_millis(cap_ms),
                max_attempts,
            },
        };
        let request_timeout = stored
            .request_timeout()
            .unwrap_or(self.request_timeout)
            .min(self.max_request_timeout);
        let connect_timeout = stored
            .connect_timeout()
            .unwrap_or(self.connect_timeout)
            .min(request_timeout);
        EffectivePolicy {
            schedule,
            retry_logic: RetryLogic {
                permanent_client_errors: stored.permanent_client_errors,
            },
            connect_timeout,
            request_timeout,
            rate_limit: stored.rate_limit,
            max_concurrency: stored.max_concurrency,
            adaptive: stored.adaptive_concurrency,
            breaker: stored.circuit_breaker,
            send_traceparent: !stored.omit_traceparent,
        }
    }
}

#[derive(Clone, Debug)]
pub struct EffectivePolicy {
    pub schedule: RetrySchedule,
    pub retry_logic: RetryLogic,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub rate_limit: Option<RateLimit>,
    /// 0: no limit.
    pub max_concurrency: u32,
    /// The adaptive limit's bounds; the limit itself lives in Redis.
    pub adaptive: Option<AdaptiveConcurrency>,
    pub breaker: BreakerPolicy,
    /// Webhooks carry the attempt span's W3C `traceparent`.
    pub send_traceparent: bool,
}

impl EffectivePolicy {
    /// How long a concurrency lease or a probe is held at most.
    pub fn lease_ttl(&self) -> Duration {
        self.request_timeout + LEASE_MARGIN
    }

    /// True when every admission needs the shared state in Redis (a rate
    /// limit or a concurrency cap); otherwise only the breaker matters.
    pub fn has_shared_limits(&self) -> bool {
        self.rate_limit.is_some() || self.max_concurrency > 0 || self.adaptive.is_some()
    }

    /// Whether a finished attempt holds a concurrency slot to free.
    pub fn holds_slot(&self) -> bool {
        self.max_concurrency > 0 || self.adaptive.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Defaults {
        let config = DeliveryConfig {
            request_timeout: Duration::from_secs(15),
            visibility_timeout: Duration::from_secs(60),
            ..DeliveryConfig::default()
        };
        Defaults::new(&config)
    }

    #[test]
    fn empty_policy_takes_the_configured_values() {
        let policy = defaults().resolve(&DeliveryPolicy::default());
        assert_eq!(policy.connect_timeout, Duration::from_secs(5));
        assert_eq!(policy.request_timeout, Duration::from_secs(15));
        assert!(matches!(policy.schedule, RetrySchedule::Fixed(ref d) if d.len() == 8));
        assert!(!policy.has_shared_limits());
        assert_eq!(policy.breaker.failure_threshold, 10);
    }

    #[test]
    fn request_timeouts_stay_below_the_visibility_timeout() {
        let stored = DeliveryPolicy {
            request_timeout_ms: Some(300_000),
            connect_timeout_ms: Some(60_000),
            ..DeliveryPolicy::default()
        };
        let policy = defaults().resolve(&stored);
        assert_eq!(policy.request_timeout, Duration::from_secs(59));
        assert_eq!(policy.connect_timeout, Duration::from_secs(59));
        assert_eq!(policy.lease_ttl(), Duration::from_secs(64));
    }

    #[test]
    fn exponential_policies_become_exponential_schedules() {
        let stored = DeliveryPolicy {
            retry: RetryPolicy::Exponential {
                initial_ms: 100,
                factor: 3.0,
                cap_ms: 900,
                max_attempts: 4,
            },
            permanent_client_errors: true,
            max_concurrency: 2,
            ..DeliveryPolicy::default()
        };
        let policy = defaults().resolve(&stored);
        assert_eq!(
            policy.schedule,
            RetrySchedule::Exponential {
                initial: Duration::from_millis(100),
                factor: 3.0,
                cap: Duration::from_millis(900),
                max_attempts: 4,
            }
        );
        assert!(policy.retry_logic.permanent_client_errors);
        assert!(policy.has_shared_limits());
    }
}
