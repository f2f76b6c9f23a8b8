//! "These events × these rules → deliveries": the one code path that
//! creates deliveries, shared by live routing ([`super::route`]) and
//! backfills (`crate::backfill`).
//!
//! 1. Every rule runs against its event (on the blocking pool, in one
//!    task, unless no rule has an expression): matched, not matched, or
//!    failed. Each event gets a `Route` span in its own trace, with a
//!    `rule` span per rule.
//! 2. One statement inserts a delivery per matched rule (`pending`, with
//!    its mapped body) and per failed rule (`failed`, with the error) for
//!    all the events, and marks the events the caller names routed
//!    (deletes their outbox rows). A delivery's id is derived from its
//!    (event, rule) ([`DeliveryId::for_event_rule`]), so `ON CONFLICT (id)
//!    DO NOTHING` is the exactly-once guarantee; events older than the
//!    switch to derived ids (`delivery_id_scheme`) are checked by (event,
//!    rule) as well. Creating again therefore creates nothing and enqueues
//!    nothing. The caller's [`AlsoCommit`] then runs in the same
//!    transaction (a backfill advances its cursor there) and may roll it
//!    all back. The transaction does not wait for its WAL flush
//!    ([`RELAXED_COMMIT`]).
//! 3. One pipelined Redis round trip enqueues a job per pending delivery
//!    created now, then `enqueued_at` is stamped on them. If the process
//!    dies in between, the repair loop (see [`super::repair`]) enqueues them.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use switchyard_core::db;
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{ConnectionId, DeliveryId, EventId, WorkspaceId};
use switchyard_core::states::DeliveryStatus;
use switchyard_core::telemetry::metrics::names;
use switchyard_core::telemetry::propagation;
use uuid::Uuid;

use super::enqueue;
use super::route::EventRef;
use crate::RouterState;
use crate::cache::RuleSet;
use crate::expr::{EventFields, EventScope, Outcome};

/// The routing transaction commits without waiting for its WAL flush.
///
/// Losing it in a Postgres crash loses nothing: the event stays unrouted
/// (its `events_unrouted` row is deleted in the same statement) and the ingest outbox
/// forwards it again, while a job already on the stream for a lost delivery
/// finds no row to claim and is dropped. A backfill's cursor advances in
/// the same transaction, so it is lost with the deliveries and the page is
/// routed again. Nothing can act on a delivery
/// before it is durable, since the engine's claim is a synchronous commit
/// later in the same WAL. The emit that accepted the event was durable.
pub(crate) const RELAXED_COMMIT: &str = "SET LOCAL synchronous_commit TO off";

/// The columns [`StoredEvent::from_row`] reads, for `SELECT … FROM events`.
pub(crate) const EVENT_COLUMNS: &str =
    "id, workspace_id, event_type, payload, received_at, schema_version, traceparent";

/// A stored event, owned so it can move to the blocking pool.
pub(crate) struct StoredEvent {
    pub(crate) reference: EventRef,
    pub(crate) event_type: String,
    payload: serde_json::Value,
    received_at: DateTime<Utc>,
    schema_version: i32,
    traceparent: Option<String>,
}

impl StoredEvent {
    /// An event read with [`EVENT_COLUMNS`]; `None` when retention pruned
    /// its payload (only events routed and finished are), so no rule can
    /// run on it.
    pub(crate) fn from_row(row: &tokio_postgres::Row) -> Option<Self> {
        let payload = row.get::<_, Option<serde_json::Value>>("payload")?;
        Some(Self {
            reference: EventRef {
                workspace: WorkspaceId(row.get("workspace_id")),
                event: EventId(row.get("id")),
            },
            event_type: row.get("event_type"),
            payload,
            received_at: row.get("received_at"),
            schema_version: row.get("schema_version"),
            traceparent: row.get("traceparent"),
        })
    }
}

/// Runs every rule against the event, with each matched rule's ordering key.
fn keyed_outcomes(rules: &RuleSet, event: &EventFields<'_>) -> Vec<(Outcome, Option<String>)> {
    let scope = EventScope::new(event);
    rules
        .iter()
        .map(|rule| match &rule.program {
            Ok(program) => scope.keyed_outcome(program),
            Err(error) => (
                Outcome::Failed {
                    error: error.clone(),
                },
                None,
            ),
        })
        .collect()
}

fn is_trivial(rules: &RuleSet) -> bool {
    rules.iter().all(|rule| {
        rule.program
            .as_ref()
            .is_ok_and(|program| program.is_trivial())
    })
}

/// The outcomes of each event's rules, in order.
async fn evaluate(
    events: Arc<Vec<(StoredEvent, RuleSet)>>,
) -> ApiResult<Vec<Vec<(Outcome, Option<String>)>>> {
    let as_is = || (Outcome::Matched { body: None }, None);
    if events.iter().all(|(_, rules)| is_trivial(rules)) {
        return Ok(events
            .iter()
            .map(|(_, set)| vec![as_is(); set.len()])
            .collect());
    }
    tokio::task::spawn_blocking(move || {
        events
            .iter()
            .map(|(event, rules)| {
                if is_trivial(rules) {
                    return vec![as_is(); rules.len()];
                }
                let id = event.reference.event.to_string();
                let fields = EventFields {
                    event_type: &event.event_type,
                    id: &id,
                    payload: &event.payload,
                    received_at: event.received_at,
                    schema_version: i64::from(event.schema_version),
                };
                keyed_outcomes(rules, &fields)
            })
            .collect()
    })
    .await
    .map_err(|error| ApiError::Internal(anyhow::anyhow!("rule evaluation panicked: {error}")))
}

/// The event's `Route` span, in the trace the event was emitted in, with a
/// `rule` span per rule: matched or not, the mapped body's size, or the
/// error.
fn trace_event(event: &StoredEvent, rules: &RuleSet, outcomes: &[Outcome]) -> tracing::Span {
    let route = tracing::info_span!(
        "Route",
        switchyard.workspace = %event.reference.workspace,
        switchyard.event_id = %event.reference.event,
        switchyard.rules = rules.len(),
    );
    propagation::set_parent_from_traceparent(&route, event.traceparent.as_deref());
    let _entered = route.enter();
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
    drop(_entered);
    route
}

/// The delivery rows of a batch, column by column (for `unnest`).
#[derive(Default)]
struct DeliveryRows {
    ids: Vec<Uuid>,
    workspaces: Vec<Uuid>,
    events: Vec<Uuid>,
    rules: Vec<Uuid>,
    connections: Vec<Uuid>,
    statuses: Vec<DeliveryStatus>,
    errors: Vec<String>,
    bodies: Vec<Option<String>>,
    traceparents: Vec<Option<String>>,
    ordering_keys: Vec<Option<String>>,
}

/// What the routing statement returns.
pub(crate) struct Written {
    /// Deliveries each marked-routed event had before this statement.
    pub(crate) existing: HashMap<Uuid, i64>,
    /// (delivery, event, pending), in delivery id order.
    pub(crate) created: Vec<(Uuid, Uuid, bool)>,
}

/// What the insert did, for an [`AlsoCommit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Deliveries the batch's outcomes asked for (matched and failed rules).
    pub(crate) attempted: usize,
    /// Of those, the ones inserted now; the rest existed already.
    pub(crate) created: usize,
}

/// More work for the transaction that inserts the deliveries, so that it
/// commits with them or not at all.
pub(crate) trait AlsoCommit {
    /// Runs after the insert, inside its transaction; `Ok(false)` rolls the
    /// deliveries back (nothing is written, nothing enqueued).
    async fn also_commit(
        &self,
        transaction: &tokio_postgres::Transaction<'_>,
        tally: Tally,
    ) -> Result<bool, tokio_postgres::Error>;
}

/// Live routing: the deliveries and the outbox rows are all there is.
pub(crate) struct NothingElse;

impl AlsoCommit for NothingElse {
    async fn also_commit(
        &self,
        _transaction: &tokio_postgres::Transaction<'_>,
        _tally: Tally,
    ) -> Result<bool, tokio_postgres::Error> {
        Ok(true)
    }
}

async fn write(
    client: &mut deadpool_postgres::Object,
    rows: &DeliveryRows,
    routed: &[Uuid],
    also: &impl AlsoCommit,
) -> Result<Option<Written>, tokio_postgres::Error> {
    let transaction = client.transaction().await?;
    transaction.batch_execute(RELAXED_COMMIT).await?;
    // One statement: the deliveries counted before this insert (a
    // data-modifying CTE is not visible to its siblings), the ones created
    // now, and the outbox rows deleted.
    let result = transaction
        .query(
            "WITH inserted AS ( \
                 INSERT INTO deliveries (id, workspace_id, event_id, rule_id, connection_id, \
                                         status, last_error, body, traceparent, ordering_key) \
                 SELECT d.id, d.workspace_id, d.event_id, d.rule_id, d.connection_id, d.status, \
                        d.last_error, d.body::jsonb, d.traceparent, d.ordering_key \
                 FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], \
                             $6::text[], $7::text[], $8::text[], $9::text[], $11::text[]) \
                      AS d (id, workspace_id, event_id, rule_id, connection_id, status, \
                            last_error, body, traceparent, ordering_key) \
                 WHERE CASE WHEN d.event_id >= (SELECT deterministic_from FROM delivery_id_scheme) \
                            THEN true \
                            ELSE NOT EXISTS (SELECT 1 FROM deliveries x \
                                             WHERE x.event_id = d.event_id AND x.rule_id = d.rule_id) \
                       END \
                 ON CONFLICT (id) DO NOTHING \
                 RETURNING id, event_id, status \
             ), routed AS ( \
                 DELETE FROM events_unrouted WHERE event_id = ANY($10) \
             ), existing AS ( \
                 SELECT event_id, count(*) AS count FROM deliveries \
                 WHERE event_id = ANY($10) AND id >= $12 GROUP BY event_id \
             ) \
             SELECT id, event_id, status = $13 AS pending, 0::bigint AS count FROM inserted \
             UNION ALL \
             SELECT NULL::uuid, event_id, false, count FROM existing",
            &[
                &rows.ids,
                &rows.workspaces,
                &rows.events,
                &rows.rules,
                &rows.connections,
                &rows.statuses,
                &rows.errors,
                &rows.bodies,
                &rows.traceparents,
                &routed,
                &rows.ordering_keys,
                &earliest_delivery_bound(routed),
                &DeliveryStatus::Pending,
            ],
        )
        .await?;
    let tally = Tally {
        attempted: rows.ids.len(),
        created: result
            .iter()
            .filter(|row| row.get::<_, Option<Uuid>>(0).is_some())
            .count(),
    };
    if !also.also_commit(&transaction, tally).await? {
        transaction.rollback().await?;
        return Ok(None);
    }
    transaction.commit().await?;
    let mut written = Written {
        existing: HashMap::new(),
        created: Vec::new(),
    };
    for row in &result {
        let event: Uuid = row.get(1);
        match row.get::<_, Option<Uuid>>(0) {
            Some(delivery) => written.created.push((delivery, event, row.get(2))),
            None => {
                written.existing.insert(event, row.get::<_, i64>(3));
            }
        }
    }
    written.created.sort_unstable();
    Ok(Some(written))
}

/// Runs each event's rules and creates the deliveries they ask for, with
/// `also` in the same transaction; enqueues the new pending ones. The
/// events in `mark_routed` lose their outbox rows in that transaction.
/// `None`: `also` rolled the transaction back.
pub(crate) async fn create_deliveries(
    state: &RouterState,
    mut batch: Vec<(StoredEvent, RuleSet)>,
    mark_routed: &[Uuid],
    also: &impl AlsoCommit,
) -> ApiResult<Option<Written>> {
    // Each event once, in id order (the lock order of the statement).
    batch.sort_by_key(|(event, _)| event.reference.event.as_uuid());
    let started = std::time::Instant::now();
    let batch = Arc::new(batch);
    let outcomes = evaluate(Arc::clone(&batch)).await?;
    metrics::histogram!(names::ROUTING_SECONDS).record(started.elapsed().as_secs_f64());

    let mut rows = DeliveryRows::default();
    let mut traces: HashMap<Uuid, Option<String>> = HashMap::with_capacity(batch.len());
    for ((event, rules), keyed) in batch.iter().zip(outcomes) {
        let (outcomes, keys): (Vec<Outcome>, Vec<Option<String>>) = keyed.into_iter().unzip();
        let span = trace_event(event, rules, &outcomes);
        let traceparent = span.in_scope(propagation::current_traceparent);
        traces.insert(event.reference.event.as_uuid(), traceparent.clone());
        for ((rule, outcome), key) in rules.iter().zip(outcomes).zip(keys) {
            let (status, error, body) = match outcome {
                Outcome::NotMatched => continue,
                Outcome::Matched { body } => (DeliveryStatus::Pending, String::new(), body),
                Outcome::Failed { error } => {
                    tracing::info!(rule = %rule.record.id, event = %event.reference.event, %error, "rule failed on this event");
                    (DeliveryStatus::Failed, error, None)
                }
            };
            rows.ids
                .push(DeliveryId::for_event_rule(event.reference.event, rule.record.id).as_uuid());
            rows.workspaces.push(event.reference.workspace.as_uuid());
            rows.events.push(event.reference.event.as_uuid());
            rows.rules.push(rule.record.id.as_uuid());
            rows.connections.push(rule.record.connection_id.as_uuid());
            rows.statuses.push(status);
            rows.errors.push(error);
            rows.bodies.push(body);
            rows.traceparents.push(traceparent.clone());
            rows.ordering_keys.push(key);
        }
    }
    let mut client = state.pool.get().await?;
    let mut tries = 0;
    let written = loop {
        tries += 1;
        match write(&mut client, &rows, mark_routed, also).await {
            Ok(Some(written)) => break written,
            Ok(None) => return Ok(None),
            // Two batches routing the same events in another order.
            Err(error) if tries < db::DEADLOCK_TRIES && db::is_deadlock(&error) => {
                tracing::debug!("routing batch chosen as deadlock victim; trying again");
            }
            Err(error) => return Err(error.into()),
        }
    };
    drop(client);

    let connections: HashMap<Uuid, Uuid> = rows
        .ids
        .iter()
        .copied()
        .zip(rows.connections.iter().copied())
        .collect();
    let workspaces: HashMap<Uuid, WorkspaceId> = batch
        .iter()
        .map(|(e, _)| (e.reference.event.as_uuid(), e.reference.workspace))
        .collect();
    let pending: Vec<enqueue::Job> = written
        .created
        .iter()
        .filter(|(_, _, pending)| *pending)
        .filter_map(|(delivery, event, _)| {
            Some(enqueue::Job {
                workspace: *workspaces.get(event)?,
                delivery: DeliveryId(*delivery),
                connection: ConnectionId(*connections.get(delivery)?),
                traceparent: traces.get(event).cloned().flatten(),
            })
        })
        .collect();
    if !pending.is_empty() {
        // The deliveries are committed, so the caller has nothing to retry:
        // a lost enqueue is repaired by the repair loop.
        let enqueued = async {
            if state.faults.take_enqueue_failure() {
                return Err(ApiError::Unavailable(
                    "injected enqueue failure".to_string(),
                ));
            }
            enqueue::push(&state.producer, &pending).await?;
            let ids: Vec<DeliveryId> = pending.iter().map(|job| job.delivery).collect();
            enqueue::mark_enqueued(&state.pool, &ids).await
        }
        .await;
        if let Err(error) = enqueued {
            tracing::warn!(error = %error, count = pending.len(), "enqueue failed; the repair loop will enqueue");
        }
    }
    Ok(Some(written))
}

/// No delivery of these events has a lower id: derived ids share their
/// event's millisecond, and ids drawn at routing (before derived ids) came
/// after the event (an hour of slack for clocks of other hosts). It lets
/// the count of existing deliveries skip older partitions.
fn earliest_delivery_bound(events: &[Uuid]) -> Uuid {
    const SLACK_MS: u64 = 3_600_000;
    let earliest = events
        .iter()
        .filter_map(|event| event.get_timestamp())
        .map(|time| {
            let (seconds, nanos) = time.to_unix();
            seconds * 1000 + u64::from(nanos / 1_000_000)
        })
        .min()
        .unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(earliest.saturating_sub(SLACK_MS), &[0; 10])
        .into_uuid()
}
