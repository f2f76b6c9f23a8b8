//! *Whether* an attempt's outcome calls for another try (a `RetryLogic`, as
//! vector calls it), kept apart from *when* ([`super::schedule`]).
//!
//! - 2xx: the receiver has the event.
//! - 410 Gone: the receiver asks us to stop; the delivery is dead and the
//!   connection is disabled.
//! - 408, 429, 5xx, timeouts and network errors: transient, retried; they
//!   also count as failures for the circuit breaker.
//! - 3xx (redirects are not followed) and other 4xx: retried by default
//!   (receivers answer 4xx while being deployed or misconfigured, and the
//!   operator can fix the connection between attempts), or dead at once
//!   when the connection's policy says client errors are permanent. The
//!   destination did answer, so they do not move the breaker.
//! - a destination refused by the SSRF guard or unusable settings: retried
//!   (the operator may fix them), without moving the breaker.
//! - a mapped body the destination cannot send (a contact without its
//!   email): dead at once.
//!
//! A destination kind may read its API's answers more precisely first
//! (`crate::destinations`), e.g. a validation error that no retry can fix,
//! or credentials the API rejected; everything else falls back to these
//! rules. The reason string is what `last_error` and the attempt row show.

use std::time::Duration;

use super::http::{SendError, SendResult};

/// What an outcome means for the circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// The destination worked.
    Success,
    /// The destination looks unhealthy (counts towards opening the breaker).
    Failure,
    /// Says nothing about the destination's health.
    Neutral,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetryAction {
    /// The receiver accepted the webhook.
    Successful,
    /// The attempt failed; try again if the schedule allows.
    Retry {
        reason: String,
        /// How long the receiver asked us to wait (`Retry-After`).
        retry_after: Option<Duration>,
        health: Health,
    },
    /// The attempt failed for good: the delivery is dead now.
    DontRetry { reason: String },
    /// 410 Gone: the delivery is dead and the connection is disabled.
    Gone { reason: String },
    /// The destination rejected the connection's credentials: the
    /// connection waits for new ones, and so do its deliveries, without
    /// spending their retries.
    CredentialsRejected { reason: String },
}

impl RetryAction {
    pub fn health(&self) -> Health {
        match self {
            Self::Successful => Health::Success,
            Self::Retry { health, .. } => *health,
            Self::DontRetry { .. } | Self::Gone { .. } | Self::CredentialsRejected { .. } => {
                Health::Neutral
            }
        }
    }
}

/// Decides what an attempt's outcome means for one connection.
#[derive(Clone, Copy, Debug, Default)]
pub struct RetryLogic {
    /// 3xx and 4xx (but 408 and 429) are final instead of retried.
    pub permanent_client_errors: bool,
}

impl RetryLogic {
    pub fn classify(&self, result: &SendResult) -> RetryAction {
        let response = match result {
            Ok(response) => response,
            Err(error @ SendError::Unsendable(_)) => {
                return RetryAction::DontRetry {
                    reason: error.to_string(),
                };
            }
            Err(error) => {
                let health = match error {
                    SendError::Invalid(_) | SendError::Refused(_) => Health::Neutral,
                    _ => Health::Failure,
                };
                return RetryAction::Retry {
                    reason: error.to_string(),
                    retry_after: None,
                    health,
                };
            }
        };
        let status = response.status;
        match status {
            200..=299 => RetryAction::Successful,
            410 => RetryAction::Gone {
                reason: "HTTP 410 (gone: the connection is disabled)".to_string(),
            },
            408 | 429 | 500..=599 => RetryAction::Retry {
                reason: format!("HTTP {status}"),
                retry_after: response.retry_after,
                health: Health::Failure,
            },
            _ => {
                let reason = if (300..400).contains(&status) {
                    format!("HTTP {status} (redirects are not followed)")
                } else {
                    format!("HTTP {status}")
                };
                if self.permanent_client_errors {
                    RetryAction::DontRetry { reason }
                } else {
                    RetryAction::Retry {
                        reason,
                        retry_after: response.retry_after,
                        health: Health::Neutral,
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::http::HttpResponse;

    fn answered(status: u16) -> SendResult {
        Ok(HttpResponse {
            status,
            snippet: String::new(),
            retry_after: None,
        })
    }

    const LENIENT: RetryLogic = RetryLogic {
        permanent_client_errors: false,
    };
    const STRICT: RetryLogic = RetryLogic {
        permanent_client_errors: true,
    };

    fn retry(reason: &str, health: Health) -> RetryAction {
        RetryAction::Retry {
            reason: reason.to_string(),
            retry_after: None,
            health,
        }
    }

    #[test]
    fn any_2xx_succeeds() {
        for status in [200, 201, 202, 204, 299] {
            for logic in [LENIENT, STRICT] {
                assert_eq!(logic.classify(&answered(status)), RetryAction::Successful);
            }
        }
    }

    #[test]
    fn transient_answers_are_retried_and_count_as_failures() {
        for status in [408, 429, 500, 501, 502, 503, 504, 599] {
            for logic in [LENIENT, STRICT] {
                assert_eq!(
                    logic.classify(&answered(status)),
                    retry(&format!("HTTP {status}"), Health::Failure),
                    "{status}"
                );
            }
        }
    }

    #[test]
    fn client_errors_are_retried_unless_the_policy_says_permanent() {
        assert_eq!(
            LENIENT.classify(&answered(404)),
            retry("HTTP 404", Health::Neutral)
        );
        assert_eq!(
            LENIENT.classify(&answered(302)),
            retry("HTTP 302 (redirects are not followed)", Health::Neutral)
        );
        assert_eq!(
            STRICT.classify(&answered(400)),
            RetryAction::DontRetry {
                reason: "HTTP 400".to_string()
            }
        );
        assert_eq!(
            STRICT.classify(&answered(301)),
            RetryAction::DontRetry {
                reason: "HTTP 301 (redirects are not followed)".to_string()
            }
        );
        assert_eq!(STRICT.classify(&answered(404)).health(), Health::Neutral);
    }

    #[test]
    fn gone_disables_whatever_the_policy() {
        for logic in [LENIENT, STRICT] {
            let action = logic.classify(&answered(410));
            assert!(matches!(action, RetryAction::Gone { .. }), "{action:?}");
        }
    }

    #[test]
    fn retry_after_is_passed_on() {
        let throttled = Ok(HttpResponse {
            status: 429,
            snippet: String::new(),
            retry_after: Some(Duration::from_secs(30)),
        });
        assert_eq!(
            LENIENT.classify(&throttled),
            RetryAction::Retry {
                reason: "HTTP 429".to_string(),
                retry_after: Some(Duration::from_secs(30)),
                health: Health::Failure,
            }
        );
    }

    #[test]
    fn failures_without_a_response_are_retried() {
        let cases = [
            (
                SendError::TimedOut(Duration::from_secs(15)),
                "timed out after 15s",
                Health::Failure,
            ),
            (
                SendError::ConnectionRefused("tcp connect error".to_string()),
                "connection refused: tcp connect error",
                Health::Failure,
            ),
            (
                SendError::Refused("resolves to 10.0.0.1".to_string()),
                "destination refused: resolves to 10.0.0.1",
                Health::Neutral,
            ),
        ];
        for (error, reason, health) in cases {
            assert_eq!(STRICT.classify(&Err(error)), retry(reason, health));
        }
    }
}
