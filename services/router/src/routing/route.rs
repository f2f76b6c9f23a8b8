//! `RouteEvent`: one stored event in, its deliveries out.
//!
//! 1. Read the event and the compiled rules of its type (rule cache).
//! 2. Evaluate every rule (on the blocking pool unless no rule has an
//!    expression): matched, not matched, or failed.
//! 3. One statement inserts a delivery per matched rule (`pending`, with its
//!    mapped body) and per failed rule (`failed`, with the error), `ON
//!    CONFLICT (event_id, rule_id) DO NOTHING`, and marks the event routed.
//!    A repeat call therefore creates nothing and enqueues nothing. The
//!    transaction does not wait for its WAL flush ([`RELAXED_COMMIT`]).
//! 4. One pipelined Redis round trip enqueues a job per pending delivery
//!    created now, then `enqueued_at` is stamped on them. If the process dies
//!    in between, the repair loop (see [`super::repair`]) enqueues them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{DeliveryId, EventId, WorkspaceId};
use uuid::Uuid;

use switchyard_core::telemetry::metrics::names;
use switchyard_core::telemetry::propagation;

use super::enqueue;
use crate::RouterState;
use crate::cache::RuleSet;
use crate::expr::{EventFields, EventScope, Outcome};

/// The routing transaction commits without waiting for its WAL flush.
///
/// Losing it in a Postgres crash loses nothing: the event stays unrouted
/// (`routed_at` is written in the same statement) and the ingest outbox
/// forwards it again, while a job already on the stream for a lost delivery
/// finds no row to claim and is dropped. Nothing can act on a delivery
/// before it is durable, since the engine's claim is a synchronous commit
/// later in the same WAL. The emit that accepted the event was durable.
pub(crate) const RELAXED_COMMIT: &str = "SET LOCAL synchronous_commit TO off";

#[derive(Debug, PartialEq, Eq)]
pub struct RouteOutcome {
    /// Deliveries the event has after this call.
    pub delivery_count: u32,
    /// Deliveries this call created, pending and failed.
    pub created: Vec<DeliveryId>,
    /// Of those, the pending ones: enqueued now, or by the repair loop.
    pub pending: Vec<DeliveryId>,
}

/// The stored event, owned so it can move to the blocking pool.
struct StoredEvent {
    id: EventId,
    event_type: String,
    payload: serde_json::Value,
    received_at: DateTime<Utc>,
    schema_version: i32,
}

/// Runs every rule against the event.
pub(crate) fn outcomes(rules: &RuleSet, event: &EventFields<'_>) -> Vec<Outcome> {
    let scope = EventScope::new(event);
    rules
        .iter()
        .map(|rule| match &rule.program {
            Ok(program) => scope.outcome(program),
            Err(error) => Outcome::Failed {
                error: error.clone(),
            },
        })
        .collect()
}

async fn evaluate(rules: &RuleSet, event: StoredEvent) -> ApiResult<Vec<Outcome>> {
    let trivial = rules.iter().all(|rule| {
        rule.program
            .as_ref()
            .is_ok_and(|program| program.is_trivial())
    });
    if trivial {
        return Ok(vec![Outcome::Matched { body: None }; rules.len()]);
    }
    let rules = Arc::clone(rules);
    tokio::task::spawn_blocking(move || {
        let id = event.id.to_string();
        let fields = EventFields {
            event_type: &event.event_type,
            id: &id,
            payload: &event.payload,
            received_at: event.received_at,
            schema_version: i64::from(event.schema_version),
        };
        outcomes(&rules, &fields)
    })
    .await
    .map_err(|error| ApiError::Internal(anyhow::anyhow!("rule evaluation panicked: {error}")))
}

/// One span per rule under the routing span: matched or not, the mapped
/// body's size, or the error.
fn trace_outcomes(rules: &RuleSet, outcomes: &[Outcome]) {
    for (rule, outcome) in rules.iter().zip(outcomes) {
        let span = tracing::info_span!(
            "rule",
            switchyard.rule_id = %rule.record.id,
            switchyard.connection_id = %rule.record.connection_id,
            switchyard.matched = tracing::field::Empty,
            switchyard.mapped_bytes = tracing::field::Empty,
            error.type = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        match outcome {
            Outcome::NotMatched => {
                span.record("switchyard.matched", false);
            }
            Outcome::Matched { body } => {
                span.record("switchyard.matched", true);
                span.record(
                    "switchyard.mapped_bytes",
                    body.as_ref().map_or(0, String::len),
                );
            }
            Outcome::Failed { error } => {
                span.record("switchyard.matched", true);
                span.record("error.type", error.as_str());
                span.record("otel.status_code", "ERROR");
            }
        }
    }
}

#[tracing::instrument(
    name = "Route",
    skip_all,
    fields(switchyard.workspace = %workspace, switchyard.event_id = %event, switchyard.rules = tracing::field::Empty)
)]
pub async fn route_event(
    state: &RouterState,
    workspace: WorkspaceId,
    event: EventId,
) -> ApiResult<RouteOutcome> {
    let client = state.pool.get().await?;
    let row = client
        .query_opt(
            "SELECT event_type, payload, received_at, schema_version FROM events \
             WHERE workspace_id = $1 AND id = $2",
            &[&workspace.as_uuid(), &event.as_uuid()],
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("event {event} not found")))?;
    let stored = StoredEvent {
        id: event,
        event_type: row.get("event_type"),
        payload: row.get("payload"),
        received_at: row.get("received_at"),
        schema_version: row.get("schema_version"),
    };
    // A cold rule cache takes a connection of its own: holding this one
    // meanwhile would let concurrent routes exhaust the pool and wait on
    // each other until its timeout (seen after a restart under load).
    drop(client);
    let rules = state
        .cache
        .rules_for(&state.pool, workspace, &stored.event_type)
        .await?;
    let started = std::time::Instant::now();
    let outcomes = evaluate(&rules, stored).await?;
    metrics::histogram!(names::ROUTING_SECONDS).record(started.elapsed().as_secs_f64());
    tracing::Span::current().record("switchyard.rules", rules.len());
    trace_outcomes(&rules, &outcomes);
    let traceparent = propagation::current_traceparent();

    let mut ids = Vec::new();
    let mut rule_ids = Vec::new();
    let mut connection_ids = Vec::new();
    let mut statuses = Vec::new();
    let mut errors = Vec::new();
    let mut bodies: Vec<Option<String>> = Vec::new();
    for (rule, outcome) in rules.iter().zip(outcomes) {
        let (status, error, body) = match outcome {
            Outcome::NotMatched => continue,
            Outcome::Matched { body } => ("pending", String::new(), body),
            Outcome::Failed { error } => {
                tracing::info!(rule = %rule.record.id, %error, "rule failed on this event");
                ("failed", error, None)
            }
        };
        ids.push(DeliveryId::generate().as_uuid());
        rule_ids.push(rule.record.id.as_uuid());
        connection_ids.push(rule.record.connection_id.as_uuid());
        statuses.push(status);
        errors.push(error);
        bodies.push(body);
    }
    let mut client = state.pool.get().await?;
    let transaction = client.transaction().await?;
    transaction.batch_execute(RELAXED_COMMIT).await?;
    let row = transaction
        .query_one(
            "WITH inserted AS ( \
                 INSERT INTO deliveries (id, workspace_id, event_id, rule_id, connection_id, \
                                         status, last_error, body, traceparent) \
                 SELECT d.id, $1, $2, d.rule_id, d.connection_id, d.status, d.last_error, d.body::jsonb, $9 \
                 FROM unnest($3::uuid[], $4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::text[]) \
                      AS d (id, rule_id, connection_id, status, last_error, body) \
                 ON CONFLICT (event_id, rule_id) DO NOTHING \
                 RETURNING id, status \
             ), routed AS ( \
                 UPDATE events SET routed_at = now() \
                 WHERE workspace_id = $1 AND id = $2 AND routed_at IS NULL \
             ) \
             SELECT (SELECT count(*) FROM deliveries WHERE workspace_id = $1 AND event_id = $2) AS existing, \
                    ARRAY(SELECT id FROM inserted ORDER BY id) AS created, \
                    ARRAY(SELECT id FROM inserted WHERE status = 'pending' ORDER BY id) AS pending",
            &[
                &workspace.as_uuid(),
                &event.as_uuid(),
                &ids,
                &rule_ids,
                &connection_ids,
                &statuses,
                &errors,
                &bodies,
                &traceparent,
            ],
        )
        .await?;
    transaction.commit().await?;
    drop(client);
    let existing: i64 = row.get("existing");
    let created: Vec<Uuid> = row.get("created");
    let pending: Vec<Uuid> = row.get("pending");
    let pending: Vec<DeliveryId> = pending.into_iter().map(DeliveryId).collect();

    if !pending.is_empty() {
        let jobs: Vec<_> = pending
            .iter()
            .map(|id| enqueue::Job {
                workspace,
                delivery: *id,
                traceparent: None,
            })
            .collect();
        // The deliveries are committed, so the caller has nothing to retry:
        // a lost enqueue is repaired by the repair loop.
        let enqueued = async {
            if state.faults.take_enqueue_failure() {
                return Err(ApiError::Unavailable(
                    "injected enqueue failure".to_string(),
                ));
            }
            enqueue::push(&state.redis, &state.keys, &jobs).await?;
            enqueue::mark_enqueued(&state.pool, &pending).await
        }
        .await;
        if let Err(error) = enqueued {
            tracing::warn!(error = %error, count = pending.len(), "enqueue failed; the repair loop will enqueue");
        }
    }
    let created: Vec<DeliveryId> = created.into_iter().map(DeliveryId).collect();
    let total = existing + i64::try_from(created.len()).unwrap_or(i64::MAX);
    tracing::debug!(created = created.len(), total, "event routed");
    Ok(RouteOutcome {
        delivery_count: u32::try_from(total).unwrap_or(u32::MAX),
        created,
        pending,
    })
}
