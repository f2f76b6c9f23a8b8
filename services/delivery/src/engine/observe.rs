//! What one attempt tells the outside world: the `delivery.attempt` span in
//! the event's trace and the delivery metrics.
//!
//! The span's parent is the job's `traceparent` (the router's `enqueue`
//! span) or, for jobs rebuilt from Postgres (replays, repairs), the
//! `traceparent` stored with the delivery — so every attempt, a retry hours
//! later included, lands in the trace of its event. Attributes follow the
//! OpenTelemetry HTTP client conventions where they exist
//! (`http.request.method` — the kind's: POST, PUT, PATCH —, `url.full` with
//! credentials and query values redacted, `http.response.status_code`,
//! `error.type`) plus `switchyard.*`, among them the connection's kind
//! (`switchyard.destination.kind`).
//!
//! Metrics (names in `switchyard_core::telemetry::metrics::names`):
//! deliveries by outcome and connection, the attempt latency histogram and
//! waits imposed by the connection's limits.

use std::time::Duration;

use chrono::Utc;
use switchyard_core::telemetry::metrics::names;
use switchyard_core::telemetry::propagation;
use tracing::Span;
use tracing::field::Empty;

use super::gate::HoldReason;
use super::http::{SendError, SendResult};
use super::job::Job;
use crate::store::jobs::{Claimed, NewStatus};

/// Replaces secrets in a URL: userinfo and every query value.
const REDACTED: &str = "REDACTED";

/// The span of one claimed attempt, in the event's trace.
pub fn attempt_span(job: &Job, claimed: &Claimed) -> Span {
    let span = tracing::info_span!(
        "delivery.attempt",
        otel.kind = "client",
        otel.status_code = Empty,
        http.request.method = Empty,
        url.full = Empty,
        http.response.status_code = Empty,
        error.type = Empty,
        switchyard.attempt = claimed.attempt,
        switchyard.delivery_id = %job.delivery,
        switchyard.connection_id = %claimed.connection,
        switchyard.destination.kind = %claimed.kind,
        switchyard.workspace_id = %job.workspace,
        switchyard.trigger = %claimed.trigger,
        switchyard.outcome = Empty,
        switchyard.retry_delay_ms = Empty,
        switchyard.held = Empty,
    );
    let parent = job.traceparent().or(claimed.traceparent.as_deref());
    propagation::set_parent_from_traceparent(&span, parent);
    span
}

/// Records a finished attempt on its span and in the metrics; `method` is
/// the request's (none when no request was made).
pub fn finished(
    span: &Span,
    connection: &str,
    method: Option<&str>,
    url: &str,
    result: Option<&SendResult>,
    status: &NewStatus,
    duration: Duration,
) {
    if let Some(method) = method {
        span.record("http.request.method", method);
    }
    if !url.is_empty() {
        span.record("url.full", redacted_url(url));
    }
    match result {
        Some(Ok(response)) => {
            // A broker kind's answer is a reply code, not an HTTP status.
            if method.is_some() {
                span.record("http.response.status_code", response.status);
            }
            if !(200..300).contains(&response.status) {
                span.record("error.type", response.status.to_string());
            }
        }
        Some(Err(error)) => {
            span.record("error.type", error_type(error));
        }
        None => {}
    }
    span.record("switchyard.outcome", status.as_str());
    match status {
        NewStatus::Succeeded => {}
        NewStatus::Retrying { next_attempt_at } => {
            let delay = (*next_attempt_at - Utc::now()).num_milliseconds().max(0);
            span.record("switchyard.retry_delay_ms", delay);
            span.record("otel.status_code", "ERROR");
        }
        NewStatus::Dead => {
            span.record("otel.status_code", "ERROR");
        }
    }
    let connection = connection.to_string();
    metrics::counter!(
        names::DELIVERIES,
        "outcome" => status.as_str(),
        "connection" => connection.clone()
    )
    .increment(1);
    if result.is_some() {
        metrics::histogram!(names::ATTEMPT_SECONDS, "connection" => connection)
            .record(duration.as_secs_f64());
    }
}

/// Records an attempt held back by the connection's limits (not counted).
pub fn held(span: &Span, connection: &str, reason: HoldReason, wait: Duration) {
    span.record("otel.name", "delivery.held");
    span.record("switchyard.held", reason.as_str());
    span.record("switchyard.retry_delay_ms", wait.as_millis() as u64);
    metrics::counter!(
        names::RATE_LIMITED_WAITS,
        "reason" => reason.as_str(),
        "connection" => connection.to_string()
    )
    .increment(1);
}

/// The `error.type` of a request that got no response.
fn error_type(error: &SendError) -> &'static str {
    match error {
        SendError::Invalid(_) => "invalid_settings",
        SendError::Unsendable(_) => "unsendable_body",
        SendError::Refused(_) => "destination_refused",
        SendError::TimedOut(_) => "timeout",
        SendError::ConnectTimedOut(_) => "connect_timeout",
        SendError::ConnectionRefused(_) => "connection_refused",
        SendError::Connect(_) => "connect_error",
        SendError::Other(_) => "_OTHER",
    }
}

/// `url` without credentials or query values, for spans.
pub fn redacted_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return REDACTED.to_string();
    };
    if !parsed.username().is_empty() {
        let _ = parsed.set_username(REDACTED);
    }
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some(REDACTED));
    }
    if parsed.query().is_some() {
        let keys: Vec<String> = parsed
            .query_pairs()
            .map(|(key, _)| key.into_owned())
            .collect();
        let mut pairs = parsed.query_pairs_mut();
        pairs.clear();
        for key in keys {
            pairs.append_pair(&key, REDACTED);
        }
    }
    parsed.set_fragment(None);
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_credentials_and_query_values() {
        assert_eq!(
            redacted_url("https://user:pw@hooks.example.com/in?token=abc&team=x#frag"),
            "https://REDACTED:REDACTED@hooks.example.com/in?token=REDACTED&team=REDACTED"
        );
        assert_eq!(
            redacted_url("http://127.0.0.1:8080/hook"),
            "http://127.0.0.1:8080/hook"
        );
        assert_eq!(redacted_url("not a url"), "REDACTED");
    }
}
