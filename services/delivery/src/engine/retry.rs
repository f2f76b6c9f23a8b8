//! *Whether* an attempt's outcome calls for another try, kept apart from
//! *when* ([`super::schedule`]).
//!
//! Only a 2xx answer means the receiver has the event. Anything else — a
//! network error, a timeout, a refused destination, a 3xx (redirects are not
//! followed), a 4xx or a 5xx — is retried until the schedule runs out:
//! receivers often answer 4xx while being deployed or misconfigured, and the
//! operator can fix the connection between attempts. The reason string is
//! what `last_error` and the attempt row show.

use std::time::Duration;

use super::http::SendResult;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetryAction {
    /// The receiver accepted the webhook.
    Successful,
    /// The attempt failed; try again if the schedule allows.
    Retry {
        reason: String,
        /// How long the receiver asked us to wait (`Retry-After`).
        retry_after: Option<Duration>,
    },
}

/// Decides what an attempt's outcome means.
pub fn classify(result: &SendResult) -> RetryAction {
    match result {
        Ok(response) if (200..300).contains(&response.status) => RetryAction::Successful,
        Ok(response) => RetryAction::Retry {
            reason: status_reason(response.status),
            retry_after: response.retry_after,
        },
        Err(error) => RetryAction::Retry {
            reason: error.to_string(),
            retry_after: None,
        },
    }
}

fn status_reason(status: u16) -> String {
    if (300..400).contains(&status) {
        format!("HTTP {status} (redirects are not followed)")
    } else {
        format!("HTTP {status}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::http::{HttpResponse, SendError};

    fn answered(status: u16) -> SendResult {
        Ok(HttpResponse {
            status,
            snippet: String::new(),
            retry_after: None,
        })
    }

    #[test]
    fn any_2xx_succeeds() {
        for status in [200, 201, 202, 204, 299] {
            assert_eq!(
                classify(&answered(status)),
                RetryAction::Successful,
                "{status}"
            );
        }
    }

    #[test]
    fn other_statuses_are_retried_with_the_status_as_reason() {
        let retry = |reason: &str| RetryAction::Retry {
            reason: reason.to_string(),
            retry_after: None,
        };
        assert_eq!(classify(&answered(503)), retry("HTTP 503"));
        assert_eq!(classify(&answered(500)), retry("HTTP 500"));
        assert_eq!(classify(&answered(404)), retry("HTTP 404"));
        assert_eq!(classify(&answered(429)), retry("HTTP 429"));
        assert_eq!(
            classify(&answered(302)),
            retry("HTTP 302 (redirects are not followed)")
        );
        assert_eq!(classify(&answered(100)), retry("HTTP 100"));
    }

    #[test]
    fn retry_after_is_passed_on() {
        let throttled = Ok(HttpResponse {
            status: 429,
            snippet: String::new(),
            retry_after: Some(Duration::from_secs(30)),
        });
        assert_eq!(
            classify(&throttled),
            RetryAction::Retry {
                reason: "HTTP 429".to_string(),
                retry_after: Some(Duration::from_secs(30)),
            }
        );
    }

    #[test]
    fn failures_without_a_response_are_retried() {
        let cases = [
            (
                SendError::TimedOut(Duration::from_secs(15)),
                "timed out after 15s",
            ),
            (
                SendError::ConnectionRefused("tcp connect error".to_string()),
                "connection refused: tcp connect error",
            ),
            (
                SendError::Refused("resolves to 10.0.0.1".to_string()),
                "destination refused: resolves to 10.0.0.1",
            ),
        ];
        for (error, reason) in cases {
            assert_eq!(
                classify(&Err(error)),
                RetryAction::Retry {
                    reason: reason.to_string(),
                    retry_after: None,
                }
            );
        }
    }
}
