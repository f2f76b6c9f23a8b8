//! The outbox forwarder. Every poll it claims up to a batch of events the
//! router has not marked routed and whose `next_route_at` has come, pushes
//! `next_route_at` out with exponential backoff (capped at a minute) so a
//! second ingest replica skips them, and forwards them concurrently. The
//! router marks an event routed in the same statement that creates its
//! deliveries, so a success needs no write here.

use futures::StreamExt;
use switchyard_core::ids::{EventId, WorkspaceId};
use switchyard_core::shutdown::Signal;

use switchyard_core::telemetry::propagation;
use tracing::Instrument;

use crate::IngestState;
use crate::emit::forward;

const BATCH: i64 = 100;
const CONCURRENCY: usize = 16;

pub async fn run(state: IngestState, shutdown: Signal) {
    let mut ticker = tokio::time::interval(state.limits.outbox_poll_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.clone().wait() => return,
            _ = ticker.tick() => {}
        }
        match forward_due(&state).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "outbox forwarded events"),
            Err(error) => tracing::warn!(error = format!("{error:#}"), "outbox poll failed"),
        }
    }
}

/// Claims and forwards one batch; returns how many were forwarded.
pub async fn forward_due(state: &IngestState) -> anyhow::Result<usize> {
    let client = state.pool.get().await?;
    let rows = client
        .query(
            "UPDATE events SET route_attempts = route_attempts + 1, \
                 next_route_at = now() + least(power(2, route_attempts), 60) * interval '1 second' \
             WHERE id IN ( \
                 SELECT id FROM events WHERE routed_at IS NULL AND next_route_at <= now() \
                 ORDER BY next_route_at LIMIT $1 FOR UPDATE SKIP LOCKED \
             ) RETURNING id, workspace_id, traceparent",
            &[&BATCH],
        )
        .await?;
    drop(client);
    let due: Vec<(WorkspaceId, EventId, Option<String>)> = rows
        .iter()
        .map(|row| (WorkspaceId(row.get(1)), EventId(row.get(0)), row.get(2)))
        .collect();
    let forwarded = futures::stream::iter(due)
        .map(|(workspace, event, traceparent)| {
            // A late forward still belongs to the emit's trace.
            let span = tracing::info_span!("outbox.forward", switchyard.event_id = %event);
            propagation::set_parent_from_traceparent(&span, traceparent.as_deref());
            async move { forward(state, workspace, event).await }.instrument(span)
        })
        .buffer_unordered(CONCURRENCY)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    Ok(forwarded)
}
