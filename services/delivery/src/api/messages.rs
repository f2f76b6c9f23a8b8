//! Rows to protobuf messages (the states convert through
//! `switchyard_core::states`).

use switchyard_core::config::TelemetryConfig;
use switchyard_core::time::to_proto;
use switchyard_proto::v1::{self as pb, Attempt, Delivery};

use crate::store::history::{AttemptRow, DeliveryRow};

/// The delivery as the API shows it; `telemetry` builds its trace link.
pub fn delivery_message(row: DeliveryRow, telemetry: &TelemetryConfig) -> Delivery {
    let (trace_id, trace_url) = telemetry.trace_link(row.traceparent.as_deref());
    // Only a planned attempt has a meaningful time.
    let next_attempt_at = row
        .status
        .is_waiting()
        .then(|| to_proto(row.next_attempt_at));
    Delivery {
        id: row.id.to_string(),
        event_id: row.event_id.to_string(),
        connection_id: row.connection_id.to_string(),
        rule_id: row.rule_id.to_string(),
        status: pb::DeliveryStatus::from(row.status).into(),
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
        trigger: pb::AttemptTrigger::from(row.trigger).into(),
    }
}

#[cfg(test)]
mod tests {
    use switchyard_core::states::{AttemptTrigger, DeliveryStatus};
    use switchyard_proto::v1 as pb;

    #[test]
    fn maps_every_status_both_ways() {
        for (text, status) in [
            ("pending", pb::DeliveryStatus::Pending),
            ("delivering", pb::DeliveryStatus::Delivering),
            ("succeeded", pb::DeliveryStatus::Succeeded),
            ("retrying", pb::DeliveryStatus::Retrying),
            ("dead", pb::DeliveryStatus::Dead),
            ("failed", pb::DeliveryStatus::Failed),
        ] {
            let stored = DeliveryStatus::try_from(status).map(DeliveryStatus::as_str);
            assert_eq!(stored.ok(), Some(text));
            let parsed = text.parse::<DeliveryStatus>().map(pb::DeliveryStatus::from);
            assert_eq!(parsed.ok(), Some(status));
        }
        assert!(DeliveryStatus::try_from(pb::DeliveryStatus::Unspecified).is_err());
        assert!("other".parse::<DeliveryStatus>().is_err());
    }

    #[test]
    fn maps_triggers() {
        for (text, trigger) in [
            ("scheduled", pb::AttemptTrigger::Scheduled),
            ("manual", pb::AttemptTrigger::Manual),
            ("replay", pb::AttemptTrigger::Replay),
        ] {
            let parsed = text.parse::<AttemptTrigger>().map(pb::AttemptTrigger::from);
            assert_eq!(parsed.ok(), Some(trigger));
        }
        assert!("?".parse::<AttemptTrigger>().is_err());
    }
}
