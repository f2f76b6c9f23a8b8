//! What HubSpot's answers mean.
//!
//! Errors come as `{"status":"error","message","correlationId","category"}`:
//! - 401 (`INVALID_AUTHENTICATION`, an expired or revoked token) and 403
//!   `MISSING_SCOPES`: the connection needs new credentials;
//! - 400 `VALIDATION_ERROR` (an unknown property, a malformed email): no
//!   retry can fix it, the delivery fails with HubSpot's message;
//! - 429 (`errorType: RATE_LIMIT`, `policyName` SECONDLY or DAILY):
//!   retried when HubSpot says — its `Retry-After` if sent, else the rate
//!   limit window `X-HubSpot-RateLimit-Interval-Milliseconds`, else a
//!   second when `X-HubSpot-RateLimit-Secondly-Remaining` is 0; a rate
//!   limit is not the destination failing, so the breaker is not moved;
//! - 207 multi-status: the batch answered per input; an error there fails
//!   the delivery when it is a `VALIDATION_ERROR`, else it is retried;
//! - anything else: the connection's default rules.

use std::time::Duration;

use reqwest::header::HeaderMap;

use crate::destinations::answer_json;
use crate::engine::http::{HttpResponse, SendResult, standard_retry_after};
use crate::engine::retry::{Health, RetryAction, RetryLogic};

pub const INTERVAL_HEADER: &str = "x-hubspot-ratelimit-interval-milliseconds";
pub const SECONDLY_REMAINING_HEADER: &str = "x-hubspot-ratelimit-secondly-remaining";

/// How long HubSpot asked us to wait.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(wait) = standard_retry_after(headers) {
        return Some(wait);
    }
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
    };
    if let Some(interval) = number(INTERVAL_HEADER) {
        return Some(Duration::from_millis(interval));
    }
    (number(SECONDLY_REMAINING_HEADER) == Some(0)).then_some(Duration::from_secs(1))
}

pub fn classify(result: &SendResult, logic: &RetryLogic) -> RetryAction {
    let Ok(response) = result else {
        return logic.classify(result);
    };
    let error = answer_json(response);
    let field = |name: &str| {
        error
            .as_ref()
            .and_then(|body| body.get(name))
            .and_then(|value| value.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let (category, message) = (field("category"), field("message"));
    match response.status {
        401 => RetryAction::CredentialsRejected {
            reason: format!("HubSpot rejected the token (HTTP 401): {message}"),
        },
        403 if category == "MISSING_SCOPES" => RetryAction::CredentialsRejected {
            reason: format!("HubSpot token lacks scopes (HTTP 403): {message}"),
        },
        400 if category == "VALIDATION_ERROR" => RetryAction::DontRetry {
            reason: format!("HubSpot VALIDATION_ERROR (HTTP 400): {message}"),
        },
        429 => RetryAction::Retry {
            reason: format!(
                "HubSpot rate limit (HTTP 429, policy {}): {message}",
                field("policyName")
            ),
            retry_after: response.retry_after,
            health: Health::Neutral,
        },
        207 => classify_multi_status(error.as_ref()),
        _ => logic.classify(result),
    }
}

/// A batch's per-input errors.
fn classify_multi_status(body: Option<&serde_json::Value>) -> RetryAction {
    let first = body
        .and_then(|body| body.get("errors"))
        .and_then(|errors| errors.get(0));
    let text = |name: &str| {
        first
            .and_then(|error| error.get(name))
            .and_then(|value| value.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let (category, message) = (text("category"), text("message"));
    if first.is_none() {
        return RetryAction::Successful;
    }
    let reason = format!("HubSpot {category} (HTTP 207): {message}");
    if category == "VALIDATION_ERROR" {
        RetryAction::DontRetry { reason }
    } else {
        RetryAction::Retry {
            reason,
            retry_after: None,
            health: Health::Neutral,
        }
    }
}

/// HubSpot's `category`, `correlationId` and `policyName` of an error.
pub fn detail(response: &HttpResponse) -> serde_json::Map<String, serde_json::Value> {
    let mut detail = serde_json::Map::new();
    let Some(body) = answer_json(response) else {
        return detail;
    };
    for name in ["category", "correlationId", "policyName"] {
        if let Some(value) = body.get(name).and_then(|v| v.as_str()) {
            detail.insert(name.to_string(), value.into());
        }
    }
    detail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::destinations::answered;

    #[test]
    fn reads_hubspot_errors() {
        let logic = RetryLogic::default();
        let invalid = answered(
            400,
            serde_json::json!({"status": "error", "category": "VALIDATION_ERROR",
                "message": "Property values were not valid", "correlationId": "c-1"}),
        );
        assert_eq!(
            classify(&invalid, &logic),
            RetryAction::DontRetry {
                reason: "HubSpot VALIDATION_ERROR (HTTP 400): Property values were not valid"
                    .into()
            }
        );
        let expired = answered(
            401,
            serde_json::json!({"category": "INVALID_AUTHENTICATION"}),
        );
        assert!(matches!(
            classify(&expired, &logic),
            RetryAction::CredentialsRejected { .. }
        ));
        let other_400 = answered(400, serde_json::json!({"category": "OTHER"}));
        assert!(matches!(
            classify(&other_400, &logic),
            RetryAction::Retry { .. }
        ));
        let batch = answered(
            207,
            serde_json::json!({"errors": [{"category": "VALIDATION_ERROR", "message": "bad email"}]}),
        );
        assert!(matches!(
            classify(&batch, &logic),
            RetryAction::DontRetry { .. }
        ));
    }

    #[test]
    fn rate_limit_headers_give_the_wait() {
        let mut headers = HeaderMap::new();
        headers.insert(INTERVAL_HEADER, "10000".parse().expect("value"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(10)));
        headers.insert("retry-after", "3".parse().expect("value"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        let mut secondly = HeaderMap::new();
        secondly.insert(SECONDLY_REMAINING_HEADER, "0".parse().expect("value"));
        assert_eq!(retry_after(&secondly), Some(Duration::from_secs(1)));
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }
}
