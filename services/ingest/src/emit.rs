//! The path of one `EmitEvent` call. The event is committed before the call
//! answers; routing happens after, so a slow or absent router never slows or
//! fails an emit (the outbox forwarder catches up).

use std::time::Duration;

use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{EventId, WorkspaceId};
use switchyard_core::names::EventTypeName;
use switchyard_proto::internal::v1::RouteEventRequest;
use switchyard_proto::v1 as pb;
use tonic::{Code, Request, Status};
use tonic_types::FieldViolation;

use switchyard_core::telemetry::metrics::names;
use switchyard_core::telemetry::propagation;
use tracing::Instrument;

use crate::IngestState;

const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// `EmitEvent`, counted in metrics by outcome.
pub async fn emit_event(
    state: &IngestState,
    request: Request<pb::EmitEventRequest>,
) -> ApiResult<pb::EmitEventResponse> {
    let event_type = request.get_ref().event_type.clone();
    let result = emit_event_inner(state, request).await;
    // Unparseable names are not used as label values: labels must stay few.
    let label = if EventTypeName::parse(&event_type).is_ok() {
        event_type
    } else {
        "invalid".to_string()
    };
    match &result {
        Ok(_) => metrics::counter!(names::EVENTS_ACCEPTED, "event_type" => label).increment(1),
        Err(error) => {
            let reason = format!("{:?}", error.code()).to_lowercase();
            metrics::counter!(names::EVENTS_REJECTED, "event_type" => label, "reason" => reason)
                .increment(1);
        }
    }
    result
}

#[tracing::instrument(
    name = "EmitEvent",
    skip_all,
    fields(
        switchyard.event_type = %request.get_ref().event_type,
        switchyard.payload_bytes = request.get_ref().payload_json.len(),
        switchyard.workspace = tracing::field::Empty,
        switchyard.event_id = tracing::field::Empty,
        switchyard.duplicate = tracing::field::Empty,
    )
)]
async fn emit_event_inner(
    state: &IngestState,
    request: Request<pb::EmitEventRequest>,
) -> ApiResult<pb::EmitEventResponse> {
    let workspace = switchyard_core::auth::workspace(&request)?;
    let span = tracing::Span::current();
    span.record("switchyard.workspace", tracing::field::display(workspace));
    let authorization = request.metadata().get("authorization").cloned();
    let request = request.into_inner();

    let event_type = EventTypeName::parse(&request.event_type)
        .map_err(|reason| ApiError::invalid("event_type", reason))?;
    let limits = state.quotas.limits(workspace);
    let max_bytes = limits.max_payload_bytes;
    if request.payload_json.len() > max_bytes {
        return Err(ApiError::invalid(
            "payload_json",
            format!(
                "is {} bytes, more than this workspace's limit of {max_bytes} bytes (max_payload_bytes)",
                request.payload_json.len()
            ),
        ));
    }
    // After the cheap checks, so a malformed request costs no allowance.
    if let Some(rate) = &state.rate {
        rate.check(workspace, &limits).await?;
    }
    let payload: serde_json::Value =
        serde_json::from_str(&request.payload_json).map_err(|error| {
            ApiError::invalid("payload_json", format!("is not valid JSON: {error}"))
        })?;
    if !payload.is_object() {
        return Err(ApiError::invalid("payload_json", "must be a JSON object"));
    }
    let idempotency_key = parse_idempotency_key(&request.idempotency_key)?;

    // A repeat answers from the first event without asking the registry.
    if let Some(key) = &idempotency_key
        && let Some(existing) = find_by_key(state, workspace, key).await?
    {
        span.record("switchyard.event_id", existing.event_id.as_str());
        span.record("switchyard.duplicate", true);
        return Ok(existing);
    }

    let (schema_version, deprecated) = validate(
        state,
        authorization,
        &event_type,
        request.schema_version,
        &request.payload_json,
    )
    .await?;
    let mut stored = insert(
        state,
        workspace,
        &event_type,
        schema_version,
        &payload,
        idempotency_key.as_deref(),
    )
    .await?;
    span.record("switchyard.event_id", stored.event_id.as_str());
    span.record("switchyard.duplicate", stored.duplicate);
    if !stored.duplicate {
        let event = EventId::parse(&stored.event_id)
            .map_err(|reason| anyhow::anyhow!("stored id: {reason}"))?;
        let state = state.clone();
        // The routing call joins this emit's trace.
        tokio::spawn(async move { forward(&state, workspace, event).await }.instrument(span));
    }
    // The registry's answer to this emit; only a repeat answered up front
    // (above) goes without one.
    stored.deprecated = deprecated;
    Ok(stored)
}

fn parse_idempotency_key(key: &str) -> ApiResult<Option<String>> {
    if key.is_empty() {
        return Ok(None);
    }
    if key.len() > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(ApiError::invalid(
            "idempotency_key",
            format!("is longer than {MAX_IDEMPOTENCY_KEY_LEN} bytes"),
        ));
    }
    if key.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "idempotency_key",
            "contains control characters",
        ));
    }
    Ok(Some(key.to_string()))
}

async fn find_by_key(
    state: &IngestState,
    workspace: WorkspaceId,
    key: &str,
) -> ApiResult<Option<pb::EmitEventResponse>> {
    let client = state.pool.get().await?;
    let row = client
        .query_opt(
            "SELECT id, schema_version FROM events WHERE workspace_id = $1 AND idempotency_key = $2",
            &[&workspace.as_uuid(), &key],
        )
        .await?;
    Ok(row.map(|row| pb::EmitEventResponse {
        event_id: EventId(row.get(0)).to_string(),
        duplicate: true,
        schema_version: u32::try_from(row.get::<_, i32>(1)).unwrap_or(0),
        deprecated: false,
    }))
}

/// Asks the registry, with the caller's own credentials, and returns the
/// schema version the payload satisfies and whether its type is deprecated.
async fn validate(
    state: &IngestState,
    authorization: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
    event_type: &EventTypeName,
    schema_version: u32,
    payload_json: &str,
) -> ApiResult<(u32, bool)> {
    let mut request = Request::new(pb::ValidatePayloadRequest {
        event_type: event_type.to_string(),
        schema_version,
        payload_json: payload_json.to_string(),
    });
    if let Some(authorization) = authorization {
        request
            .metadata_mut()
            .insert("authorization", authorization);
    }
    let response = state
        .registry
        .clone()
        .validate_payload(request)
        .await
        .map_err(registry_error)?
        .into_inner();
    if response.valid {
        return Ok((response.schema_version, response.deprecated));
    }
    Err(violations_error(event_type, &response))
}

fn registry_error(status: Status) -> ApiError {
    match status.code() {
        Code::Unavailable | Code::DeadlineExceeded | Code::Unknown | Code::Cancelled => {
            tracing::warn!(error = %status, "schema registry unreachable");
            ApiError::Unavailable(
                "the schema registry is unreachable; the event was not stored, retry later"
                    .to_string(),
            )
        }
        _ => ApiError::Upstream(status),
    }
}

fn violations_error(
    event_type: &EventTypeName,
    response: &pb::ValidatePayloadResponse,
) -> ApiError {
    let listed: Vec<String> = response
        .violations
        .iter()
        .map(|v| format!("{}: {}", display_pointer(&v.instance_path), v.message))
        .collect();
    let more = if response.truncated {
        " (and more)"
    } else {
        ""
    };
    ApiError::Violations {
        summary: format!(
            "payload_json does not match version {} of `{event_type}`: {}{more}",
            response.schema_version,
            listed.join("; ")
        ),
        violations: response
            .violations
            .iter()
            .map(|v| {
                FieldViolation::new(
                    format!("payload_json{}", v.instance_path),
                    format!(
                        "{} (keyword `{}` at {})",
                        v.message,
                        v.keyword,
                        display_pointer(&v.schema_path)
                    ),
                )
            })
            .collect(),
    }
}

fn display_pointer(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}

async fn insert(
    state: &IngestState,
    workspace: WorkspaceId,
    event_type: &EventTypeName,
    schema_version: u32,
    payload: &serde_json::Value,
    idempotency_key: Option<&str>,
) -> ApiResult<pb::EmitEventResponse> {
    let id = EventId::generate();
    let version = i32::try_from(schema_version)
        .map_err(|_| anyhow::anyhow!("schema version out of range"))?;
    // The forwarder leaves the event alone for this long: the spawned
    // forward normally routes it well before.
    let grace_seconds = state.limits.outbox_grace.as_secs_f64();
    let traceparent = propagation::current_traceparent();
    let client = state.pool.get().await?;
    let inserted = client
        .query_opt(
            "INSERT INTO events (id, workspace_id, event_type, schema_version, payload, idempotency_key, next_route_at, traceparent) \
             VALUES ($1, $2, $3, $4, $5, $6, now() + $7 * interval '1 second', $8) \
             ON CONFLICT (workspace_id, idempotency_key) DO NOTHING RETURNING id",
            &[
                &id.as_uuid(),
                &workspace.as_uuid(),
                &event_type.as_str(),
                &version,
                payload,
                &idempotency_key,
                &grace_seconds,
                &traceparent,
            ],
        )
        .await?;
    if inserted.is_some() {
        tracing::debug!(event_id = %id, "event stored");
        return Ok(pb::EmitEventResponse {
            event_id: id.to_string(),
            duplicate: false,
            schema_version,
            deprecated: false,
        });
    }
    // A concurrent emit with the same key won the race.
    let key = idempotency_key.ok_or_else(|| anyhow::anyhow!("insert without key conflicted"))?;
    find_by_key(state, workspace, key)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("idempotency conflict without a row")))
}

/// Hands an event to the router. Failures are only logged: the outbox
/// forwarder retries every event the router has not marked routed.
pub async fn forward(state: &IngestState, workspace: WorkspaceId, event: EventId) -> bool {
    let mut request = Request::new(RouteEventRequest {
        workspace_id: workspace.to_string(),
        event_id: event.to_string(),
    });
    request
        .metadata_mut()
        .insert("authorization", state.internal_auth.clone());
    request.set_timeout(Duration::from_secs(10));
    match state.routing.clone().route_event(request).await {
        Ok(response) => {
            let response = response.into_inner();
            tracing::debug!(event_id = %event, deliveries = response.delivery_count, created = response.created_count, "event routed");
            true
        }
        Err(status) => {
            tracing::warn!(event_id = %event, code = ?status.code(), error = status.message(), "routing failed; the outbox will retry");
            false
        }
    }
}
