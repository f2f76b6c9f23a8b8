//! The outbox forwarder. Every poll it claims up to a batch of events the
//! router has not routed yet (their rows in `events_unrouted`, which ingest
//! writes with each event and the router deletes) whose `next_route_at` has come, pushes
//! `next_route_at` out with exponential backoff (capped at a minute) so a
//! second ingest replica skips them, and forwards them in `RouteEvents`
//! calls of up to a thousand. A full batch is followed at once by the next,
//! so a backlog left by a router outage drains at routing speed, not at one
//! batch per poll. The router deletes an event's outbox row in the
//! statement that creates its deliveries, so a success needs no write here.

use switchyard_core::ids::{EventId, WorkspaceId};
use switchyard_core::shutdown::{self, Signal};

use crate::IngestState;
use crate::commit::Committed;
use crate::forward::{MAX_CALL_EVENTS, forward};

/// Events claimed per pass.
const BATCH: i64 = 1000;

pub async fn run(state: IngestState, shutdown: Signal) {
    let interval = state.limits.outbox_poll_interval;
    let signal = shutdown.clone();
    shutdown::every(interval, shutdown, || drain(&state, &signal)).await;
}

/// Forwards batches until one is not full (or shutdown trips).
async fn drain(state: &IngestState, shutdown: &Signal) {
    loop {
        match forward_due(state).await {
            Ok((claimed, forwarded)) => {
                if forwarded > 0 {
                    tracing::info!(forwarded, "outbox forwarded events");
                }
                // A full batch that went through: there may be more.
                if claimed < BATCH as usize || forwarded < claimed {
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "outbox poll failed");
                return;
            }
        }
        if shutdown.is_tripped() {
            return;
        }
    }
}

/// Claims and forwards one batch; returns how many were claimed and how
/// many forwarded.
pub async fn forward_due(state: &IngestState) -> anyhow::Result<(usize, usize)> {
    let client = state.pool.get().await?;
    let rows = client
        .query(
            "UPDATE events_unrouted SET route_attempts = route_attempts + 1, \
                 next_route_at = now() + least(power(2, route_attempts), 60) * interval '1 second' \
             WHERE event_id IN ( \
                 SELECT event_id FROM events_unrouted WHERE next_route_at <= now() \
                 ORDER BY next_route_at LIMIT $1 FOR UPDATE SKIP LOCKED \
             ) RETURNING event_id, workspace_id",
            &[&BATCH],
        )
        .await?;
    drop(client);
    let due: Vec<Committed> = rows
        .iter()
        .map(|row| Committed {
            workspace: WorkspaceId(row.get(1)),
            event: EventId(row.get(0)),
        })
        .collect();
    let mut forwarded = 0;
    for chunk in due.chunks(MAX_CALL_EVENTS) {
        if forward(state.router.as_ref(), chunk).await {
            forwarded += chunk.len();
        }
    }
    Ok((due.len(), forwarded))
}
