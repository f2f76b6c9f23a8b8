//! Small renderings shared by pages: times, statuses, states. Statuses
//! show as their stored text (`switchyard_core::states`); connection
//! states and triggers as words for people.

use chrono::{DateTime, NaiveDateTime, Utc};
use maud::{Markup, html};
use switchyard_core::states;
use switchyard_proto::v1::{AttemptTrigger, ConnectionState, DeliveryStatus};

use crate::error::ConsoleError;

pub fn time(value: Option<&prost_types::Timestamp>) -> String {
    value
        .and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

pub fn status_name(status: DeliveryStatus) -> &'static str {
    states::DeliveryStatus::try_from(status).map_or("unknown", states::DeliveryStatus::as_str)
}

/// A status as a coloured badge.
pub fn status_badge(status: i32) -> Markup {
    let name = status_name(DeliveryStatus::try_from(status).unwrap_or_default());
    html! { span class={"badge " (name)} { (name) } }
}

pub fn status_from_name(name: &str) -> Option<DeliveryStatus> {
    name.parse::<states::DeliveryStatus>()
        .ok()
        .map(DeliveryStatus::from)
}

/// Every status's name, for a filter.
pub fn status_names() -> impl Iterator<Item = &'static str> {
    states::DeliveryStatus::ALL
        .iter()
        .map(|status| status.as_str())
}

pub fn state_name(state: i32) -> &'static str {
    match ConnectionState::try_from(state).unwrap_or_default() {
        ConnectionState::Unspecified => "unknown",
        ConnectionState::Active => "active",
        ConnectionState::Paused => "paused",
        ConnectionState::Disabled => "disabled",
        ConnectionState::NeedsCredentials => "needs credentials",
    }
}

pub fn trigger_name(trigger: i32) -> &'static str {
    match AttemptTrigger::try_from(trigger).unwrap_or_default() {
        AttemptTrigger::Unspecified => "",
        AttemptTrigger::Scheduled => "scheduled",
        AttemptTrigger::Manual => "manual retry",
        AttemptTrigger::Replay => "replay",
    }
}

/// A `datetime-local` form value (read as UTC) as a timestamp; empty is
/// absent.
pub fn form_time(value: &str, field: &str) -> Result<Option<prost_types::Timestamp>, ConsoleError> {
    if value.is_empty() {
        return Ok(None);
    }
    let parsed = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| {
            ConsoleError::bad_request(format!("{field} must look like 2026-12-04T13:30 (UTC)"))
        })?;
    let utc: DateTime<Utc> = parsed.and_utc();
    Ok(Some(prost_types::Timestamp {
        seconds: utc.timestamp(),
        nanos: 0,
    }))
}

/// JSON text pretty-printed when it parses, as given otherwise.
pub fn pretty_json(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .and_then(|value| serde_json::to_string_pretty(&value))
        .unwrap_or_else(|_| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_times_are_utc_and_checked() {
        let parsed = form_time("2026-12-04T13:30", "since").ok().flatten();
        assert_eq!(parsed.map(|t| t.seconds), Some(1_796_391_000));
        assert!(matches!(form_time("", "since"), Ok(None)));
        assert!(form_time("yesterday", "since").is_err());
    }

    #[test]
    fn statuses_round_trip_by_name() {
        assert_eq!(status_from_name("dead"), Some(DeliveryStatus::Dead));
        assert_eq!(status_from_name("nope"), None);
        for name in status_names() {
            let status = status_from_name(name).map(status_name);
            assert_eq!(status, Some(name));
        }
        assert_eq!(status_name(DeliveryStatus::Unspecified), "unknown");
        assert_eq!(
            status_names().collect::<Vec<_>>(),
            [
                "pending",
                "delivering",
                "succeeded",
                "retrying",
                "dead",
                "failed"
            ]
        );
    }
}
