//! Routing: stored events in, their deliveries out, many events per round
//! trip. `RouteEvent` is a batch of one.
//!
//! One query reads every event of the batch (with the trace it was emitted
//! in), the compiled rules of each (workspace, type) come from the rule
//! cache, and [`super::deliver::create_deliveries`] evaluates, inserts,
//! marks the events routed and enqueues. What is left here is turning its
//! result into one [`RouteOutcome`] per requested event.

use std::collections::HashMap;
use std::sync::Arc;

use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{DeliveryId, EventId, WorkspaceId};
use uuid::Uuid;

use super::deliver::{self, EVENT_COLUMNS, NothingElse, StoredEvent};
use crate::RouterState;
use crate::cache::RuleSet;

/// Most events one `RouteEvents` call may carry.
pub const MAX_BATCH_EVENTS: usize = 1000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteOutcome {
    /// Deliveries the event has after this call.
    pub delivery_count: u32,
    /// Deliveries this call created, pending and failed.
    pub created: Vec<DeliveryId>,
    /// Of those, the pending ones: enqueued now, or by the repair loop.
    pub pending: Vec<DeliveryId>,
}

/// One event to route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventRef {
    pub workspace: WorkspaceId,
    pub event: EventId,
}

/// `RouteEvent`: routes one event; `NotFound` when it does not exist.
pub async fn route_event(
    state: &RouterState,
    workspace: WorkspaceId,
    event: EventId,
) -> ApiResult<RouteOutcome> {
    route_events(state, &[EventRef { workspace, event }])
        .await?
        .pop()
        .flatten()
        .ok_or_else(|| ApiError::not_found(format!("event {event} not found")))
}

/// Reads the batch's events; an event of another workspace than the one
/// named is treated as missing.
async fn load(
    client: &deadpool_postgres::Object,
    references: &[EventRef],
) -> ApiResult<HashMap<EventId, StoredEvent>> {
    let ids: Vec<Uuid> = references.iter().map(|r| r.event.as_uuid()).collect();
    let rows = client
        .query(
            &format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ANY($1)"),
            &[&ids],
        )
        .await?;
    let wanted: HashMap<EventId, WorkspaceId> =
        references.iter().map(|r| (r.event, r.workspace)).collect();
    let mut events = HashMap::with_capacity(rows.len());
    for row in rows {
        let Some(event) = StoredEvent::from_row(&row) else {
            let id: Uuid = row.get("id");
            tracing::info!(event = %id, "event payload pruned by retention; not routed");
            continue;
        };
        if wanted.get(&event.reference.event) != Some(&event.reference.workspace) {
            continue;
        }
        events.insert(event.reference.event, event);
    }
    Ok(events)
}

/// `RouteEvents`: one outcome per requested event, in order (`None`: no
/// such event in that workspace).
#[tracing::instrument(name = "RouteBatch", skip_all, fields(switchyard.events = references.len()))]
pub async fn route_events(
    state: &RouterState,
    references: &[EventRef],
) -> ApiResult<Vec<Option<RouteOutcome>>> {
    if references.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = {
        let client = state.pool.get().await?;
        load(&client, references).await?
    };
    // The connection went back before the rule lookups: a cold rule cache
    // takes one of its own, and holding ours meanwhile would let concurrent
    // routes exhaust the pool and wait on each other (seen after a restart
    // under load).
    // One cache lookup per (workspace, type) of the batch, not per event.
    let mut by_type: HashMap<(WorkspaceId, String), RuleSet> = HashMap::new();
    let mut batch = Vec::with_capacity(found.len());
    for (_, event) in found.drain() {
        let key = (event.reference.workspace, event.event_type.clone());
        let rules = match by_type.get(&key) {
            Some(rules) => Arc::clone(rules),
            None => {
                let rules = state.cache.rules_for(&state.pool, key.0, &key.1).await?;
                by_type.insert(key, Arc::clone(&rules));
                rules
            }
        };
        batch.push((event, rules));
    }
    drop(by_type);
    let routed: Vec<Uuid> = batch
        .iter()
        .map(|(event, _)| event.reference.event.as_uuid())
        .collect();
    let Some(written) = deliver::create_deliveries(state, batch, &routed, &NothingElse).await?
    else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "live routing rolled back without a reason"
        )));
    };

    let mut per_event: HashMap<Uuid, RouteOutcome> = routed
        .iter()
        .map(|&id| {
            let existing = written.existing.get(&id).copied().unwrap_or(0);
            (
                id,
                RouteOutcome {
                    delivery_count: u32::try_from(existing).unwrap_or(u32::MAX),
                    created: Vec::new(),
                    pending: Vec::new(),
                },
            )
        })
        .collect();
    for (delivery, event, pending) in &written.created {
        if let Some(outcome) = per_event.get_mut(event) {
            outcome.delivery_count = outcome.delivery_count.saturating_add(1);
            outcome.created.push(DeliveryId(*delivery));
            if *pending {
                outcome.pending.push(DeliveryId(*delivery));
            }
        }
    }
    tracing::debug!(
        events = routed.len(),
        created = written.created.len(),
        "events routed"
    );
    Ok(references
        .iter()
        .map(|reference| per_event.get(&reference.event.as_uuid()).cloned())
        .collect())
}
