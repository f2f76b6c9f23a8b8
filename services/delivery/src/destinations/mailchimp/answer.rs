//! What Mailchimp's answers mean. Errors are problem documents,
//! `{"type","title","status","detail","instance"}`:
//! - 400 `Member Exists` or `Invalid Resource` (a malformed email, a
//!   merge field the audience refuses): no retry can fix them, the
//!   delivery fails with Mailchimp's title and detail;
//! - 401 (`API Key Invalid`): the connection needs new credentials;
//! - 429 (`Too Many Requests`, over 10 simultaneous connections): retried;
//! - anything else: the connection's default rules.

use crate::destinations::answer_json;
use crate::engine::http::{HttpResponse, SendResult};
use crate::engine::retry::{Health, RetryAction, RetryLogic};

/// Titles of 400s that no retry can fix.
const PERMANENT_TITLES: &[&str] = &["Member Exists", "Invalid Resource"];

pub fn classify(result: &SendResult, logic: &RetryLogic) -> RetryAction {
    let Ok(response) = result else {
        return logic.classify(result);
    };
    let problem = answer_json(response);
    let text = |name: &str| {
        problem
            .as_ref()
            .and_then(|body| body.get(name))
            .and_then(|value| value.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let (title, detail) = (text("title"), text("detail"));
    match response.status {
        400 if PERMANENT_TITLES.contains(&title.as_str()) => RetryAction::DontRetry {
            reason: format!("Mailchimp {title} (HTTP 400): {detail}"),
        },
        401 => RetryAction::CredentialsRejected {
            reason: format!("Mailchimp rejected the API key (HTTP 401): {title}: {detail}"),
        },
        429 => RetryAction::Retry {
            reason: format!("Mailchimp rate limit (HTTP 429): {detail}"),
            retry_after: response.retry_after,
            health: Health::Neutral,
        },
        _ => logic.classify(result),
    }
}

/// Mailchimp's `title` and `instance` of an error.
pub fn detail(response: &HttpResponse) -> serde_json::Map<String, serde_json::Value> {
    let mut detail = serde_json::Map::new();
    if let Some(body) = answer_json(response) {
        for name in ["title", "instance"] {
            if let Some(value) = body.get(name).and_then(|v| v.as_str()) {
                detail.insert(name.to_string(), value.into());
            }
        }
    }
    detail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(status: u16, title: &str) -> SendResult {
        Ok(HttpResponse {
            status,
            snippet: serde_json::json!({"title": title, "status": status, "detail": "d"})
                .to_string(),
            retry_after: None,
        })
    }

    #[test]
    fn reads_mailchimp_problems() {
        let logic = RetryLogic::default();
        for title in ["Member Exists", "Invalid Resource"] {
            assert_eq!(
                classify(&problem(400, title), &logic),
                RetryAction::DontRetry {
                    reason: format!("Mailchimp {title} (HTTP 400): d")
                }
            );
        }
        assert!(matches!(
            classify(&problem(401, "API Key Invalid"), &logic),
            RetryAction::CredentialsRejected { .. }
        ));
        assert!(matches!(
            classify(&problem(429, "Too Many Requests"), &logic),
            RetryAction::Retry { .. }
        ));
        assert!(matches!(
            classify(&problem(400, "Bad Request"), &logic),
            RetryAction::Retry { .. }
        ));
    }
}
