//! `ListEvents` and `GetEvent`: the stored events of the caller's
//! workspace, read from the events table this service writes. Listing is
//! newest first (ids are UUIDv7, so id order is time order), paged by the
//! last id, without payloads; `GetEvent` adds the payload. An event whose
//! payload retention removed it (a NULL payload, see `crate::retention`)
//! is shown with `payload_pruned` instead.

use chrono::{DateTime, Utc};
use switchyard_core::config::TelemetryConfig;
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{EventId, WorkspaceId};
use switchyard_core::paging;
use switchyard_core::time::{from_proto, to_proto};
use switchyard_proto::v1 as pb;
use tokio_postgres::Row;

use crate::IngestState;

const COLUMNS: &str =
    "id, event_type, schema_version, idempotency_key, received_at, traceparent, payload IS NULL";

/// `ListEvents` for `workspace`.
pub async fn list(
    state: &IngestState,
    workspace: WorkspaceId,
    request: pb::ListEventsRequest,
) -> ApiResult<pb::ListEventsResponse> {
    let limit = paging::page_size(request.page_size)?;
    let before = paging::after(&request.page_token, EventId::parse)?;
    let event_type = Some(request.event_type.as_str()).filter(|name| !name.is_empty());
    let since = optional_time(request.since.as_ref(), "since")?;
    let until = optional_time(request.until.as_ref(), "until")?;
    let client = state.pool.get().await?;
    let mut rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM events WHERE workspace_id = $1 \
                 AND ($2::text IS NULL OR event_type = $2) \
                 AND ($3::timestamptz IS NULL OR received_at >= $3) \
                 AND ($4::timestamptz IS NULL OR received_at < $4) \
                 AND ($5::uuid IS NULL OR id < $5) \
                 ORDER BY id DESC LIMIT $6"
            ),
            &[
                &workspace.as_uuid(),
                &event_type,
                &since,
                &until,
                &before.map(|id| id.as_uuid()),
                &paging::fetch_limit(limit),
            ],
        )
        .await?;
    let next_page_token = paging::finish(&mut rows, limit, |row| EventId(row.get(0)));
    Ok(pb::ListEventsResponse {
        next_page_token,
        events: rows
            .iter()
            .map(|row| event_message(row, None, &state.telemetry))
            .collect(),
    })
}

/// `GetEvent` for `workspace`: another workspace's event is not found.
pub async fn get(
    state: &IngestState,
    workspace: WorkspaceId,
    request: pb::GetEventRequest,
) -> ApiResult<pb::GetEventResponse> {
    let id = EventId::parse(&request.id).map_err(|reason| ApiError::invalid("id", reason))?;
    let client = state.pool.get().await?;
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS}, payload FROM events WHERE workspace_id = $1 AND id = $2"),
            &[&workspace.as_uuid(), &id.as_uuid()],
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("event {id} not found")))?;
    let payload: Option<serde_json::Value> = row.get(7);
    Ok(pb::GetEventResponse {
        event: Some(event_message(&row, payload.as_ref(), &state.telemetry)),
    })
}

fn event_message(
    row: &Row,
    payload: Option<&serde_json::Value>,
    telemetry: &TelemetryConfig,
) -> pb::Event {
    let traceparent: Option<String> = row.get(5);
    let (trace_id, trace_url) = telemetry.trace_link(traceparent.as_deref());
    let schema_version: i32 = row.get(2);
    let idempotency_key: Option<String> = row.get(3);
    pb::Event {
        id: EventId(row.get(0)).to_string(),
        event_type: row.get(1),
        schema_version: u32::try_from(schema_version).unwrap_or(0),
        payload_json: payload.map(ToString::to_string).unwrap_or_default(),
        idempotency_key: idempotency_key.unwrap_or_default(),
        received_at: Some(to_proto(row.get(4))),
        trace_id,
        trace_url,
        payload_pruned: row.get(6),
    }
}

fn optional_time(
    value: Option<&prost_types::Timestamp>,
    field: &str,
) -> ApiResult<Option<DateTime<Utc>>> {
    value
        .map(|time| from_proto(time).map_err(|reason| ApiError::invalid(field, reason)))
        .transpose()
}
