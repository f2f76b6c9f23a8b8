//! What Salesforce's answers mean. REST errors are a JSON array,
//! `[{"message","errorCode","fields"}]`; token errors an object,
//! `{"error","error_description"}`:
//! - `INVALID_SESSION_ID` (401): the token expired; refreshed once by
//!   `deliver`, and if it happens again the credentials need replacing;
//! - `invalid_client`, `invalid_grant`, `unauthorized_client` from the
//!   token endpoint: the credentials need replacing;
//! - `REQUEST_LIMIT_EXCEEDED` (403): the org's API limit; retried later
//!   (when Salesforce says, else by the schedule), breaker untouched;
//! - any other 400 with an `errorCode` (`REQUIRED_FIELD_MISSING`,
//!   `INVALID_FIELD`, `STRING_TOO_LONG`, `DUPLICATE_VALUE`, …): no retry
//!   can fix it, the delivery fails with Salesforce's message;
//! - anything else: the connection's default rules.

use crate::destinations::answer_json;
use crate::engine::http::{HttpResponse, SendResult};
use crate::engine::retry::{Health, RetryAction, RetryLogic};

const TOKEN_REFUSALS: &[&str] = &["invalid_client", "invalid_grant", "unauthorized_client"];

/// The first error's `errorCode` and `message`.
fn first_error(response: &HttpResponse) -> Option<(String, String)> {
    let body = answer_json(response)?;
    let first = body.get(0)?;
    let text = |name: &str| first.get(name).and_then(|v| v.as_str()).unwrap_or_default();
    Some((text("errorCode").to_string(), text("message").to_string()))
}

/// True when Salesforce says the session (token) is no longer valid.
pub fn session_expired(result: &SendResult) -> bool {
    matches!(result, Ok(response) if response.status == 401
        && first_error(response).is_some_and(|(code, _)| code == "INVALID_SESSION_ID"))
}

pub fn classify(result: &SendResult, logic: &RetryLogic) -> RetryAction {
    let Ok(response) = result else {
        return logic.classify(result);
    };
    if let Some(body) = answer_json(response).filter(|body| body.is_object())
        && let Some(error) = body.get("error").and_then(|v| v.as_str())
        && TOKEN_REFUSALS.contains(&error)
    {
        let description = body.get("error_description").and_then(|v| v.as_str());
        return RetryAction::CredentialsRejected {
            reason: format!(
                "Salesforce refused the client credentials ({error}): {}",
                description.unwrap_or_default()
            ),
        };
    }
    let Some((code, message)) = first_error(response) else {
        return logic.classify(result);
    };
    let reason = format!("Salesforce {code} (HTTP {}): {message}", response.status);
    match (response.status, code.as_str()) {
        (401, "INVALID_SESSION_ID") => RetryAction::CredentialsRejected { reason },
        (_, "REQUEST_LIMIT_EXCEEDED") => RetryAction::Retry {
            reason,
            retry_after: response.retry_after,
            health: Health::Neutral,
        },
        (400, code) if !code.is_empty() => RetryAction::DontRetry { reason },
        _ => logic.classify(result),
    }
}

/// Salesforce's `errorCode` and `fields` of the first error.
pub fn detail(response: &HttpResponse) -> serde_json::Map<String, serde_json::Value> {
    let mut detail = serde_json::Map::new();
    let Some(first) = answer_json(response).and_then(|body| body.get(0).cloned()) else {
        return detail;
    };
    for name in ["errorCode", "fields"] {
        if let Some(value) = first.get(name) {
            detail.insert(name.to_string(), value.clone());
        }
    }
    detail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::destinations::answered;

    #[test]
    fn reads_salesforce_errors() {
        let logic = RetryLogic::default();
        let missing = answered(
            400,
            serde_json::json!([{"message": "Required fields are missing: [LastName]",
                "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["LastName"]}]),
        );
        assert_eq!(
            classify(&missing, &logic),
            RetryAction::DontRetry {
                reason: "Salesforce REQUIRED_FIELD_MISSING (HTTP 400): Required fields are missing: [LastName]".into()
            }
        );
        let limited = answered(
            403,
            serde_json::json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]),
        );
        assert!(matches!(
            classify(&limited, &logic),
            RetryAction::Retry {
                health: Health::Neutral,
                ..
            }
        ));
        let expired = answered(
            401,
            serde_json::json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]),
        );
        assert!(session_expired(&expired));
        assert!(matches!(
            classify(&expired, &logic),
            RetryAction::CredentialsRejected { .. }
        ));
        let refused = answered(
            400,
            serde_json::json!({"error": "invalid_client", "error_description": "invalid client credentials"}),
        );
        assert!(matches!(
            classify(&refused, &logic),
            RetryAction::CredentialsRejected { .. }
        ));
        assert!(matches!(
            classify(&answered(503, serde_json::json!({})), &logic),
            RetryAction::Retry { .. }
        ));
    }
}
