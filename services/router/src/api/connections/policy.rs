//! A connection's delivery policy between the API (`pb::DeliveryPolicy`,
//! durations as `google.protobuf.Duration`) and what `connections.policy`
//! stores (`switchyard_delivery_model::policy::DeliveryPolicy`, whole milliseconds).
//! Requests are validated by the core type, so the delivery engine only
//! ever reads policies in range; reads come back with every default filled
//! in, so a client sees what applies.

use switchyard_core::error::{ApiError, ApiResult};
use switchyard_delivery_model::policy::{
    AdaptiveConcurrency, BreakerPolicy, DeadLetterOrdering, DeliveryPolicy, OrderingPolicy,
    RateLimit, RetryPolicy,
};
use switchyard_proto::v1 as pb;

/// The stored policy for a request's (absent: every default).
pub fn from_proto(policy: Option<&pb::DeliveryPolicy>) -> ApiResult<DeliveryPolicy> {
    let Some(policy) = policy else {
        return Ok(DeliveryPolicy::default());
    };
    let retry = match policy.retry.as_ref().and_then(|r| r.policy.as_ref()) {
        None | Some(pb::retry_policy::Policy::Schedule(_)) => RetryPolicy::Schedule,
        Some(pb::retry_policy::Policy::Exponential(exponential)) => RetryPolicy::Exponential {
            initial_ms: required_millis(exponential.initial.as_ref(), "policy.retry.initial")?,
            factor: exponential.factor,
            cap_ms: required_millis(exponential.cap.as_ref(), "policy.retry.cap")?,
            max_attempts: exponential.max_attempts,
        },
    };
    let rate_limit = match &policy.rate_limit {
        None => None,
        Some(rate) => Some(RateLimit {
            count: rate.count,
            period_ms: required_millis(rate.period.as_ref(), "policy.rate_limit.period")?,
        }),
    };
    let defaults = BreakerPolicy::default();
    let circuit_breaker = match &policy.circuit_breaker {
        None => defaults,
        Some(breaker) => BreakerPolicy {
            failure_threshold: breaker
                .failure_threshold
                .unwrap_or(defaults.failure_threshold),
            failure_ratio: breaker.failure_ratio.unwrap_or(defaults.failure_ratio),
            min_requests: breaker.min_requests.unwrap_or(defaults.min_requests),
            window_ms: optional_millis(breaker.window.as_ref(), "policy.circuit_breaker.window")?
                .unwrap_or(defaults.window_ms),
            cooldown_ms: optional_millis(
                breaker.cooldown.as_ref(),
                "policy.circuit_breaker.cooldown",
            )?
            .unwrap_or(defaults.cooldown_ms),
        },
    };
    let stored = DeliveryPolicy {
        retry,
        permanent_client_errors: policy.permanent_client_errors,
        omit_traceparent: policy.omit_traceparent,
        connect_timeout_ms: optional_millis(
            policy.connect_timeout.as_ref(),
            "policy.connect_timeout",
        )?,
        request_timeout_ms: optional_millis(
            policy.request_timeout.as_ref(),
            "policy.request_timeout",
        )?,
        rate_limit,
        max_concurrency: policy.max_concurrency,
        circuit_breaker,
        adaptive_concurrency: policy.adaptive_concurrency.as_ref().map(|adaptive| {
            AdaptiveConcurrency {
                min: adaptive.min,
                max: adaptive.max,
            }
        }),
        ordering: policy
            .ordering
            .as_ref()
            .map(|ordering| ordering_from_proto(ordering.dead_letter))
            .transpose()?,
    };
    stored.validate()?;
    Ok(stored)
}

/// The API form of a stored policy. Timeouts left to the configuration
/// stay unset (the delivery service's configuration decides them).
pub fn to_proto(policy: &DeliveryPolicy) -> pb::DeliveryPolicy {
    let retry = match policy.retry {
        RetryPolicy::Schedule => pb::retry_policy::Policy::Schedule(pb::ConfiguredSchedule {}),
        RetryPolicy::Exponential {
            initial_ms,
            factor,
            cap_ms,
            max_attempts,
        } => pb::retry_policy::Policy::Exponential(pb::ExponentialBackoff {
            initial: Some(duration(initial_ms)),
            factor,
            cap: Some(duration(cap_ms)),
            max_attempts,
        }),
    };
    let breaker = policy.circuit_breaker;
    pb::DeliveryPolicy {
        retry: Some(pb::RetryPolicy {
            policy: Some(retry),
        }),
        permanent_client_errors: policy.permanent_client_errors,
        omit_traceparent: policy.omit_traceparent,
        connect_timeout: policy.connect_timeout_ms.map(duration),
        request_timeout: policy.request_timeout_ms.map(duration),
        rate_limit: policy.rate_limit.map(|rate| pb::RateLimit {
            count: rate.count,
            period: Some(duration(rate.period_ms)),
        }),
        max_concurrency: policy.max_concurrency,
        circuit_breaker: Some(pb::CircuitBreakerPolicy {
            failure_threshold: Some(breaker.failure_threshold),
            failure_ratio: Some(breaker.failure_ratio),
            min_requests: Some(breaker.min_requests),
            window: Some(duration(breaker.window_ms)),
            cooldown: Some(duration(breaker.cooldown_ms)),
        }),
        adaptive_concurrency: policy
            .adaptive_concurrency
            .map(|adaptive| pb::AdaptiveConcurrency {
                min: adaptive.min,
                max: adaptive.max,
            }),
        ordering: policy.ordering.map(|ordering| pb::OrderingPolicy {
            dead_letter: match ordering.dead_letter {
                DeadLetterOrdering::Block => pb::DeadLetterOrdering::Block,
                DeadLetterOrdering::Skip => pb::DeadLetterOrdering::Skip,
            } as i32,
        }),
    }
}

fn ordering_from_proto(dead_letter: i32) -> ApiResult<OrderingPolicy> {
    let dead_letter = match pb::DeadLetterOrdering::try_from(dead_letter) {
        Ok(pb::DeadLetterOrdering::Unspecified | pb::DeadLetterOrdering::Block) => {
            DeadLetterOrdering::Block
        }
        Ok(pb::DeadLetterOrdering::Skip) => DeadLetterOrdering::Skip,
        Err(_) => {
            return Err(ApiError::invalid(
                "policy.ordering.dead_letter",
                format!("{dead_letter} is not a DeadLetterOrdering"),
            ));
        }
    };
    Ok(OrderingPolicy { dead_letter })
}

fn duration(ms: u64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(ms / 1000).unwrap_or(i64::MAX),
        nanos: i32::try_from((ms % 1000) * 1_000_000).unwrap_or(0),
    }
}

fn optional_millis(value: Option<&prost_types::Duration>, field: &str) -> ApiResult<Option<u64>> {
    let Some(value) = value else {
        return Ok(None);
    };
    if value.seconds < 0 || value.nanos < 0 {
        return Err(ApiError::invalid(field, "must not be negative"));
    }
    let seconds = u64::try_from(value.seconds).unwrap_or(u64::MAX);
    let millis = seconds
        .saturating_mul(1000)
        .saturating_add(u64::try_from(value.nanos / 1_000_000).unwrap_or(0));
    Ok(Some(millis))
}

fn required_millis(value: Option<&prost_types::Duration>, field: &str) -> ApiResult<u64> {
    optional_millis(value, field)?.ok_or_else(|| ApiError::invalid(field, "is required"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(seconds: i64) -> Option<prost_types::Duration> {
        Some(prost_types::Duration { seconds, nanos: 0 })
    }

    #[test]
    fn absent_policies_are_every_default() {
        assert_eq!(from_proto(None).ok(), Some(DeliveryPolicy::default()));
        let empty = pb::DeliveryPolicy::default();
        assert_eq!(
            from_proto(Some(&empty)).ok(),
            Some(DeliveryPolicy::default())
        );
    }

    #[test]
    fn round_trips_a_full_policy() {
        let request = pb::DeliveryPolicy {
            retry: Some(pb::RetryPolicy {
                policy: Some(pb::retry_policy::Policy::Exponential(
                    pb::ExponentialBackoff {
                        initial: Some(prost_types::Duration {
                            seconds: 0,
                            nanos: 500_000_000,
                        }),
                        factor: 2.0,
                        cap: seconds(60),
                        max_attempts: 5,
                    },
                )),
            }),
            permanent_client_errors: true,
            omit_traceparent: true,
            connect_timeout: seconds(2),
            request_timeout: seconds(10),
            rate_limit: Some(pb::RateLimit {
                count: 50,
                period: seconds(1),
            }),
            max_concurrency: 4,
            circuit_breaker: Some(pb::CircuitBreakerPolicy {
                failure_threshold: Some(3),
                cooldown: seconds(5),
                ..Default::default()
            }),
            adaptive_concurrency: None,
            ordering: Some(pb::OrderingPolicy {
                dead_letter: pb::DeadLetterOrdering::Skip.into(),
            }),
        };
        let stored = from_proto(Some(&request)).expect("valid");
        assert_eq!(
            stored.ordering.map(|ordering| ordering.dead_letter),
            Some(DeadLetterOrdering::Skip)
        );
        assert_eq!(
            stored.retry,
            RetryPolicy::Exponential {
                initial_ms: 500,
                factor: 2.0,
                cap_ms: 60_000,
                max_attempts: 5
            }
        );
        assert_eq!(stored.circuit_breaker.failure_threshold, 3);
        assert!(stored.omit_traceparent);
        assert_eq!(
            stored.circuit_breaker.min_requests, 20,
            "defaults fill the rest"
        );
        assert_eq!(from_proto(Some(&to_proto(&stored))).ok(), Some(stored));
    }

    #[test]
    fn refuses_bad_values_with_the_field_name() {
        let field = |policy: pb::DeliveryPolicy| match from_proto(Some(&policy)) {
            Err(ApiError::InvalidArgument { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        };
        let negative = pb::DeliveryPolicy {
            request_timeout: seconds(-1),
            ..Default::default()
        };
        assert_eq!(field(negative), "policy.request_timeout");
        let bad_ordering = pb::DeliveryPolicy {
            ordering: Some(pb::OrderingPolicy { dead_letter: 9 }),
            ..Default::default()
        };
        assert_eq!(field(bad_ordering), "policy.ordering.dead_letter");
        let both = pb::DeliveryPolicy {
            max_concurrency: 3,
            adaptive_concurrency: Some(pb::AdaptiveConcurrency { min: 1, max: 8 }),
            ..Default::default()
        };
        assert_eq!(field(both), "policy.adaptive_concurrency");
        let no_period = pb::DeliveryPolicy {
            rate_limit: Some(pb::RateLimit {
                count: 5,
                period: None,
            }),
            ..Default::default()
        };
        assert_eq!(field(no_period), "policy.rate_limit.period");
        let zero_factor = pb::DeliveryPolicy {
            retry: Some(pb::RetryPolicy {
                policy: Some(pb::retry_policy::Policy::Exponential(
                    pb::ExponentialBackoff {
                        initial: seconds(1),
                        factor: 0.0,
                        cap: seconds(10),
                        max_attempts: 3,
                    },
                )),
            }),
            ..Default::default()
        };
        assert_eq!(field(zero_factor), "policy.retry.factor");
    }
}
