//! Per-key ordering in SQL: which keyed delivery may go, and who goes next.
//!
//! A delivery whose rule gave it an `ordering_key`, to a connection whose
//! policy has `ordering`, is claimable only while nothing is ahead of it:
//! no earlier delivery (by `(event_id, id)`, event ids being UUIDv7) with
//! the same key to the same connection is unfinished — or dead, when the
//! connection's dead letters block the key — and no earlier event of the
//! workspace is still waiting to be routed (its deliveries, not yet
//! created, could be ahead). [`BLOCKED`] is that test, shared by the claim
//! and the sweeper; the claim (in [`super::jobs`]) takes only heads, so a
//! key goes one delivery at a time across every replica.
//!
//! A blocked delivery's job is dropped, not parked: when the head's
//! attempt ends for good, [`next`] names the delivery behind it and the
//! engine enqueues it (the hand-over). A crash between the two leaves a
//! pending head without a job, which the sweeper re-enqueues; non-heads are
//! left out of the sweep, so a long key costs it nothing. A delivery the
//! claim passed over that nothing holds back by the time it is looked at
//! again — held by an unrouted earlier event ([`UNROUTED`]), or by a head
//! that finished in between — is parked briefly instead ([`retry_soon`]),
//! since no attempt will hand it over.

use anyhow::Context;
use deadpool_postgres::Pool;
use switchyard_core::ids::{ConnectionId, DeliveryId, WorkspaceId};
use switchyard_core::states::{self, ConnectionState, DeliveryStatus};
use switchyard_delivery_model::policy::DeadLetterOrdering;

/// True when an earlier delivery holds `d` (a `deliveries` row) back. Uses
/// the partial index `deliveries_ordering` (so the statuses are its
/// predicate's literals).
pub const BLOCKED_BY_EARLIER: &str = "(d.ordering_key IS NOT NULL AND EXISTS ( \
    SELECT 1 FROM connections oc \
    WHERE oc.id = d.connection_id AND oc.policy ? 'ordering' \
      AND EXISTS ( \
        SELECT 1 FROM deliveries o \
        WHERE o.connection_id = d.connection_id AND o.ordering_key = d.ordering_key \
          AND o.ordering_key IS NOT NULL \
          AND o.status IN ('pending', 'retrying', 'delivering', 'dead') \
          AND (o.event_id, o.id) < (d.event_id, d.id) \
          AND (o.status <> 'dead' \
               OR COALESCE(oc.policy->'ordering'->>'dead_letter', 'block') = 'block'))))";

/// True when `d` is keyed, its connection ordered, and an earlier event of
/// its workspace is not routed yet.
pub const UNROUTED: &str = "(d.ordering_key IS NOT NULL AND EXISTS ( \
    SELECT 1 FROM connections oc \
    WHERE oc.id = d.connection_id AND oc.policy ? 'ordering' \
      AND EXISTS (SELECT 1 FROM events_unrouted u \
                  WHERE u.workspace_id = d.workspace_id AND u.event_id < d.event_id)))";

/// For a keyed delivery the claim passed over: true when no earlier
/// delivery holds it back (now), yet it is due, its connection ordered and
/// not paused — held by an unrouted earlier event at the claim, or by a
/// head that has finished since. Its job must come back soon: no hand-over
/// will bring it. (One held by an earlier delivery still unfinished is
/// dropped: that delivery's hand-over, after its outcome commits, brings
/// it.)
pub fn retry_soon() -> String {
    format!(
        "(d.status IN ('pending', 'retrying') \
          AND d.ordering_key IS NOT NULL \
          AND d.next_attempt_at <= now() + interval '1 second' \
          AND EXISTS (SELECT 1 FROM connections oc WHERE oc.id = d.connection_id \
                      AND oc.policy ? 'ordering' \
                      AND NOT (oc.state IN ({holding}) \
                               AND oc.deleted_at IS NULL)) \
          AND NOT {BLOCKED_BY_EARLIER})",
        holding = states::sql_literals(ConnectionState::HOLDING)
    )
}

/// [`BLOCKED_BY_EARLIER`] or [`UNROUTED`].
pub fn blocked() -> String {
    format!("({BLOCKED_BY_EARLIER} OR {UNROUTED})")
}

/// The delivery now at the head of `key` on `connection`, when it waits for
/// a job (pending or retrying); `None` when the key is done, or its head is
/// in flight or dead (and dead letters block).
pub async fn next(
    pool: &Pool,
    connection: ConnectionId,
    key: &str,
    dead_letter: DeadLetterOrdering,
) -> anyhow::Result<Option<(WorkspaceId, DeliveryId)>> {
    let client = pool.get().await.context("connecting to Postgres")?;
    let statement = client
        .prepare_cached(
            "SELECT workspace_id, id, status FROM deliveries \
             WHERE connection_id = $1 AND ordering_key = $2 AND ordering_key IS NOT NULL \
               AND status IN ('pending', 'retrying', 'delivering', 'dead') \
               AND (status <> 'dead' OR $3) \
             ORDER BY event_id, id LIMIT 1",
        )
        .await
        .context("preparing the ordering hand-over")?;
    let blocks = dead_letter == DeadLetterOrdering::Block;
    let row = client
        .query_opt(&statement, &[&connection.as_uuid(), &key, &blocks])
        .await
        .context("finding the next delivery of the key")?;
    Ok(row.and_then(|row| {
        let status: DeliveryStatus = row.get(2);
        status
            .is_waiting()
            .then(|| (WorkspaceId(row.get(0)), DeliveryId(row.get(1))))
    }))
}
