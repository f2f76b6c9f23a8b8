//! `EmitEvent` and `EmitEvents`. Both check each event locally
//! ([`crate::api::candidate`]), refuse new work while the pipeline is behind
//! (backpressure, answered at once with retry information), take the
//! events from the workspace's ingest rate, and hand them to the group
//! commit ([`crate::commit`]). A call is answered once the commit that
//! holds its events is durable; routing happens after, so a slow or absent
//! router never fails an emit (the outbox catches up).

use std::time::Duration;

use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{EventId, WorkspaceId};
use switchyard_core::names::EventTypeName;
use switchyard_core::quotas::WorkspaceLimits;
use switchyard_core::telemetry::metrics::names;
use switchyard_core::telemetry::propagation;
use switchyard_proto::v1 as pb;
use tonic::Request;
use tonic::metadata::{Ascii, MetadataValue};
use tonic_types::QuotaViolation;

use crate::IngestState;
use crate::api::candidate::{self, Candidate};
use crate::commit::{Committed, Submission};

/// Events one `EmitEvents` call may carry.
pub const MAX_BATCH_EVENTS: usize = 1000;
/// Bytes of `payload_json`, summed, one `EmitEvents` call may carry.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// How long a caller refused for backpressure is asked to wait.
const BACKPRESSURE_RETRY: Duration = Duration::from_millis(200);

/// `EmitEvent`, counted in metrics by outcome.
pub async fn emit_event(
    state: &IngestState,
    request: Request<pb::EmitEventRequest>,
) -> ApiResult<pb::EmitEventResponse> {
    let event_type = request.get_ref().event_type.clone();
    let result = emit_event_inner(state, request).await;
    count(&event_type, result.as_ref().err());
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
        switchyard.commit_batch = tracing::field::Empty,
    )
)]
async fn emit_event_inner(
    state: &IngestState,
    request: Request<pb::EmitEventRequest>,
) -> ApiResult<pb::EmitEventResponse> {
    let workspace = switchyard_tenancy::auth::workspace(&request)?;
    let span = tracing::Span::current();
    span.record("switchyard.workspace", tracing::field::display(workspace));
    let authorization = request.metadata().get("authorization").cloned();
    let limits = state.quotas.limits(workspace);
    let candidate = candidate::check(
        workspace,
        request.into_inner(),
        limits.max_payload_bytes,
        propagation::current_traceparent(),
    )?;
    admit(state, workspace, &limits, 1).await?;
    let mut answers = submit(state, authorization, vec![candidate]).await?;
    let answer = answers
        .pop()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no answer for the event")))??;
    span.record("switchyard.event_id", answer.event_id.as_str());
    span.record("switchyard.duplicate", answer.duplicate);
    Ok(answer)
}

/// `EmitEvents`: one result per event, in order.
#[tracing::instrument(
    name = "EmitEvents",
    skip_all,
    fields(
        switchyard.events = request.get_ref().events.len(),
        switchyard.workspace = tracing::field::Empty,
        switchyard.accepted = tracing::field::Empty,
        switchyard.commit_batch = tracing::field::Empty,
    )
)]
pub async fn emit_events(
    state: &IngestState,
    request: Request<pb::EmitEventsRequest>,
) -> ApiResult<pb::EmitEventsResponse> {
    let workspace = switchyard_tenancy::auth::workspace(&request)?;
    let span = tracing::Span::current();
    span.record("switchyard.workspace", tracing::field::display(workspace));
    let authorization = request.metadata().get("authorization").cloned();
    let events = request.into_inner().events;
    if events.len() > MAX_BATCH_EVENTS {
        return Err(ApiError::invalid(
            "events",
            format!(
                "holds {} events, more than the limit of {MAX_BATCH_EVENTS} per call",
                events.len()
            ),
        ));
    }
    let bytes: usize = events.iter().map(|event| event.payload_json.len()).sum();
    if bytes > MAX_BATCH_BYTES {
        return Err(ApiError::invalid(
            "events",
            format!(
                "hold {bytes} bytes of payload_json, more than the limit of {MAX_BATCH_BYTES} per call"
            ),
        ));
    }
    if events.is_empty() {
        return Ok(pb::EmitEventsResponse::default());
    }

    let limits = state.quotas.limits(workspace);
    let traceparent = propagation::current_traceparent();
    let mut results: Vec<Option<ApiResult<pb::EmitEventResponse>>> = Vec::new();
    let mut candidates = Vec::new();
    let mut positions = Vec::new();
    for (position, event) in events.into_iter().enumerate() {
        let event_type = event.event_type.clone();
        match candidate::check(
            workspace,
            event,
            limits.max_payload_bytes,
            traceparent.clone(),
        ) {
            Ok(candidate) => {
                candidates.push(candidate);
                positions.push(position);
                results.push(None);
            }
            Err(error) => {
                count(&event_type, Some(&error));
                results.push(Some(Err(error)));
            }
        }
    }
    if !candidates.is_empty() {
        let types: Vec<String> = candidates
            .iter()
            .map(|c| c.event_type.to_string())
            .collect();
        let answers = match admit(state, workspace, &limits, candidates.len()).await {
            Ok(()) => submit(state, authorization, candidates).await,
            Err(error) => Err(error),
        };
        match answers {
            Ok(answers) => {
                for ((position, answer), event_type) in positions.iter().zip(answers).zip(&types) {
                    count(event_type, answer.as_ref().err());
                    results[*position] = Some(answer);
                }
            }
            Err(error) => {
                for (position, event_type) in positions.iter().zip(&types) {
                    let error = crate::commit::replicate(&error);
                    count(event_type, Some(&error));
                    results[*position] = Some(Err(error));
                }
            }
        }
    }
    let results: Vec<pb::EmitEventsResult> = results
        .into_iter()
        .map(|result| match result {
            Some(Ok(accepted)) => pb::EmitEventsResult {
                outcome: Some(pb::emit_events_result::Outcome::Accepted(accepted)),
            },
            Some(Err(error)) => pb::EmitEventsResult {
                outcome: Some(pb::emit_events_result::Outcome::Error(item_error(error))),
            },
            None => pb::EmitEventsResult {
                outcome: Some(pb::emit_events_result::Outcome::Error(item_error(
                    ApiError::Internal(anyhow::anyhow!("an event went unanswered")),
                ))),
            },
        })
        .collect();
    let accepted = results
        .iter()
        .filter(|r| {
            matches!(
                r.outcome,
                Some(pb::emit_events_result::Outcome::Accepted(_))
            )
        })
        .count();
    span.record("switchyard.accepted", accepted);
    Ok(pb::EmitEventsResponse { results })
}

/// Refuses work while the pipeline is behind, then takes `count` events
/// from the workspace's ingest rate.
async fn admit(
    state: &IngestState,
    workspace: WorkspaceId,
    limits: &WorkspaceLimits,
    count: usize,
) -> ApiResult<()> {
    let waiting = state.committer.backlog();
    let unrouted = state.forwarder.backlog();
    let limits_cfg = &state.limits;
    if waiting >= limits_cfg.max_pending_commits || unrouted >= limits_cfg.max_pending_routes {
        metrics::counter!(names::INGEST_BACKPRESSURE).increment(1);
        let (subject, limit) = if waiting >= limits_cfg.max_pending_commits {
            ("pending_commits", limits_cfg.max_pending_commits)
        } else {
            ("pending_routes", limits_cfg.max_pending_routes)
        };
        return Err(ApiError::ResourceExhausted {
            summary: format!(
                "ingest is behind ({subject} at its limit of {limit}); nothing was stored, retry in {} ms",
                BACKPRESSURE_RETRY.as_millis()
            ),
            retry_after: Some(BACKPRESSURE_RETRY),
            violations: vec![QuotaViolation::new(
                format!("ingest:{subject}"),
                "the event pipeline is behind; retry later",
            )],
        });
    }
    if let Some(rate) = &state.rate {
        rate.check_many(workspace, limits, count).await?;
    }
    Ok(())
}

/// Commits the candidates (see [`crate::commit`]) and forwards the newly
/// stored ones to the router.
async fn submit(
    state: &IngestState,
    authorization: Option<MetadataValue<Ascii>>,
    candidates: Vec<Candidate>,
) -> ApiResult<Vec<ApiResult<pb::EmitEventResponse>>> {
    let workspaces: Vec<WorkspaceId> = candidates.iter().map(|c| c.workspace).collect();
    let answers = state
        .committer
        .submit(Submission {
            authorization,
            candidates,
            span: tracing::Span::current(),
        })
        .await?;
    let stored: Vec<Committed> = answers
        .iter()
        .zip(workspaces)
        .filter_map(|(answer, workspace)| match answer {
            Ok(response) if !response.duplicate => EventId::parse(&response.event_id)
                .ok()
                .map(|event| Committed { workspace, event }),
            _ => None,
        })
        .collect();
    state.forwarder.forward_later(stored);
    Ok(answers)
}

fn item_error(error: ApiError) -> pb::EmitEventsError {
    let code = error.code();
    let (violations, retry_after) = match &error {
        ApiError::InvalidArgument { field, reason } => (
            vec![pb::EventFieldViolation {
                field: field.clone(),
                description: reason.clone(),
            }],
            None,
        ),
        ApiError::Violations { violations, .. } => (
            violations
                .iter()
                .map(|v| pb::EventFieldViolation {
                    field: v.field.clone(),
                    description: v.description.clone(),
                })
                .collect(),
            None,
        ),
        ApiError::ResourceExhausted { retry_after, .. } => (Vec::new(), *retry_after),
        _ if code == tonic::Code::Unavailable => {
            (Vec::new(), Some(switchyard_core::error::OUTAGE_RETRY_DELAY))
        }
        _ => (Vec::new(), None),
    };
    // What the caller would read in EmitEvent's status (opaque for our
    // own failures).
    let message = tonic::Status::from(error).message().to_string();
    pb::EmitEventsError {
        code: code as i32,
        message,
        violations,
        retry_after_ms: retry_after.map_or(0, |wait| {
            u32::try_from(wait.as_millis().max(1)).unwrap_or(u32::MAX)
        }),
    }
}

/// Counts an event by type and outcome. Unparseable names are not used as
/// label values: labels must stay few.
fn count(event_type: &str, error: Option<&ApiError>) {
    let label = if EventTypeName::parse(event_type).is_ok() {
        event_type.to_string()
    } else {
        "invalid".to_string()
    };
    match error {
        None => metrics::counter!(names::EVENTS_ACCEPTED, "event_type" => label).increment(1),
        Some(error) => {
            let reason = format!("{:?}", error.code()).to_lowercase();
            metrics::counter!(names::EVENTS_REJECTED, "event_type" => label, "reason" => reason)
                .increment(1);
        }
    }
}
