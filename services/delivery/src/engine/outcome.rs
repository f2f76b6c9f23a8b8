//! From an attempt's result to the delivery's next state: the connection's
//! [`RetryLogic`](super::retry::RetryLogic) says whether to try again, its
//! [`RetrySchedule`](super::schedule::RetrySchedule) says when.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

#[cfg(test)]
use super::http::SendResult;
use super::policy::EffectivePolicy;
use super::retry::{Health, RetryAction};
use super::schedule::Next;
use crate::store::jobs::NewStatus;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub status: NewStatus,
    /// The attempt's error text; empty on success.
    pub error: String,
    /// What the outcome tells the circuit breaker.
    pub health: Health,
    /// The receiver answered 410 Gone: disable the connection.
    pub disable_connection: bool,
    /// The destination rejected the credentials: the connection needs new
    /// ones (its deliveries are not claimed until then).
    pub needs_credentials: bool,
}

/// The decision for `result` as the connection's default rules read it
/// (the engine asks the destination first; see `decide_action`).
#[cfg(test)]
pub fn decide(attempt: u32, result: &SendResult, policy: &EffectivePolicy) -> Decision {
    decide_action(attempt, policy.retry_logic.classify(result), policy)
}

/// The decision for an outcome already classified (by its destination).
pub fn decide_action(attempt: u32, action: RetryAction, policy: &EffectivePolicy) -> Decision {
    let health = action.health();
    let mut needs_credentials = false;
    let (status, error, disable_connection) = match action {
        RetryAction::Successful => (NewStatus::Succeeded, String::new(), false),
        RetryAction::CredentialsRejected { reason } => {
            // Due at once, but not claimed while the connection waits for
            // new credentials: the schedule is not consulted, so the wait
            // cannot make the delivery dead.
            needs_credentials = true;
            let status = NewStatus::Retrying {
                next_attempt_at: Utc::now(),
            };
            (status, reason, false)
        }
        RetryAction::Retry {
            reason,
            retry_after,
            ..
        } => {
            let next = policy
                .schedule
                .after_failure(attempt, retry_after, &mut rand::rng());
            let status = match next {
                Next::RetryAfter(delay) => NewStatus::Retrying {
                    next_attempt_at: due_after(delay),
                },
                Next::GiveUp => NewStatus::Dead,
            };
            (status, reason, false)
        }
        RetryAction::DontRetry { reason } => (NewStatus::Dead, reason, false),
        RetryAction::Gone { reason } => (NewStatus::Dead, reason, true),
    };
    Decision {
        status,
        error,
        health,
        disable_connection,
        needs_credentials,
    }
}

/// Now plus `delay`, saturating instead of overflowing on absurd delays.
pub fn due_after(delay: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(delay)
        .ok()
        .and_then(|delta| Utc::now().checked_add_signed(delta))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::http::HttpResponse;
    use crate::engine::policy::Defaults;
    use switchyard_core::config::DeliveryConfig;
    use switchyard_delivery_model::policy::DeliveryPolicy;

    fn policy(permanent_client_errors: bool) -> EffectivePolicy {
        let config = DeliveryConfig {
            retry_schedule: vec![Duration::ZERO, Duration::from_secs(10)],
            ..DeliveryConfig::default()
        };
        Defaults::new(&config).resolve(&DeliveryPolicy {
            permanent_client_errors,
            ..DeliveryPolicy::default()
        })
    }

    fn answered(status: u16) -> SendResult {
        Ok(HttpResponse {
            status,
            snippet: String::new(),
            retry_after: None,
        })
    }

    #[test]
    fn failures_are_retried_until_the_schedule_runs_out() {
        let first = decide(1, &answered(503), &policy(false));
        assert!(
            matches!(first.status, NewStatus::Retrying { next_attempt_at }
            if next_attempt_at > Utc::now() + TimeDelta::seconds(7))
        );
        assert_eq!(first.error, "HTTP 503");
        assert_eq!(first.health, Health::Failure);
        let last = decide(2, &answered(503), &policy(false));
        assert_eq!(last.status, NewStatus::Dead);
    }

    #[test]
    fn permanent_client_errors_and_gone_are_dead_at_once() {
        let bad_request = decide(1, &answered(400), &policy(true));
        assert_eq!(bad_request.status, NewStatus::Dead);
        assert!(!bad_request.disable_connection);
        let lenient = decide(1, &answered(400), &policy(false));
        assert!(matches!(lenient.status, NewStatus::Retrying { .. }));
        let gone = decide(1, &answered(410), &policy(false));
        assert_eq!(gone.status, NewStatus::Dead);
        assert!(gone.disable_connection);
        let ok = decide(1, &answered(204), &policy(true));
        assert_eq!(
            (ok.status, ok.health),
            (NewStatus::Succeeded, Health::Success)
        );
    }
}
