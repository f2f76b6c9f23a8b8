//! Rows to protobuf messages, and the status texts both ways.

use switchyard_core::config::TelemetryConfig;
use switchyard_core::time::to_proto;
use switchyard_proto::v1::{Attempt, AttemptTrigger, Delivery, DeliveryStatus};

use crate::store::history::{AttemptRow, DeliveryRow};

/// The delivery as the API shows it; `telemetry` builds its trace link.
pub fn delivery_message(row: DeliveryRow, telemetry: &TelemetryConfig) -> Delivery {
    let status = status_from_text(&row.status);
    let (trace_id, trace_url) = telemetry.trace_link(row.traceparent.as_deref());
    // Only a planned attempt has a meaningful time.
    let next_attempt_at = matches!(status, DeliveryStatus::Pending | DeliveryStatus::Retrying)
        .then(|| to_proto(row.next_attempt_at));
    Delivery {
        id: row.id.to_string(),
        event_id: row.event_id.to_string(),
        connection_id: row.connection_id.to_string(),
        rule_id: row.rule_id.to_string(),
        status: status.into(),
        attempt_count: u32::try_from(row.attempt_count).unwrap_or(0),
        created_at: Some(to_proto(row.created_at)),
        next_attempt_at,
        last_error: row.last_error,
        event_type: row.event_type,
        trace_id,
        trace_url,
    }
}

pub fn attempt_message(row: AttemptRow) -> Attempt {
    Attempt {
        attempt: u32::try_from(row.attempt).unwrap_or(0),
        status_code: row
            .status_code
            .and_then(|code| u32::try_from(code).ok())
            .unwrap_or(0),
        error: row.error,
        duration_ms: u32::try_from(row.duration_ms).unwrap_or(0),
        started_at: Some(to_proto(row.started_at)),
        response_snippet: row.response_snippet,
        url: row.url,
        trigger: trigger_from_text(&row.trigger).into(),
    }
}

/// The `deliveries.status` text as the API enum.
pub fn status_from_text(status: &str) -> DeliveryStatus {
    match status {
        "pending" => DeliveryStatus::Pending,
        "delivering" => DeliveryStatus::Delivering,
        "succeeded" => DeliveryStatus::Succeeded,
        "retrying" => DeliveryStatus::Retrying,
        "dead" => DeliveryStatus::Dead,
        "failed" => DeliveryStatus::Failed,
        _ => DeliveryStatus::Unspecified,
    }
}

/// The API enum as a `deliveries.status` text; `None` for UNSPECIFIED.
pub fn status_to_text(status: DeliveryStatus) -> Option<&'static str> {
    match status {
        DeliveryStatus::Unspecified => None,
        DeliveryStatus::Pending => Some("pending"),
        DeliveryStatus::Delivering => Some("delivering"),
        DeliveryStatus::Succeeded => Some("succeeded"),
        DeliveryStatus::Retrying => Some("retrying"),
        DeliveryStatus::Dead => Some("dead"),
        DeliveryStatus::Failed => Some("failed"),
    }
}

pub fn trigger_from_text(trigger: &str) -> AttemptTrigger {
    match trigger {
        "scheduled" => AttemptTrigger::Scheduled,
        "manual" => AttemptTrigger::Manual,
        "replay" => AttemptTrigger::Replay,
        _ => AttemptTrigger::Unspecified,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_every_status_both_ways() {
        for status in [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivering,
            DeliveryStatus::Succeeded,
            DeliveryStatus::Retrying,
            DeliveryStatus::Dead,
            DeliveryStatus::Failed,
        ] {
            let text = status_to_text(status).expect("a text");
            assert_eq!(status_from_text(text), status);
        }
        assert_eq!(status_to_text(DeliveryStatus::Unspecified), None);
        assert_eq!(status_from_text("other"), DeliveryStatus::Unspecified);
    }

    #[test]
    fn maps_triggers() {
        assert_eq!(trigger_from_text("scheduled"), AttemptTrigger::Scheduled);
        assert_eq!(trigger_from_text("manual"), AttemptTrigger::Manual);
        assert_eq!(trigger_from_text("replay"), AttemptTrigger::Replay);
        assert_eq!(trigger_from_text("?"), AttemptTrigger::Unspecified);
    }
}
