//! Row-level retention, in statements of `batch` events each (one short
//! transaction apiece, so no lock is held for long):
//!
//! - [`shorter_periods`]: a workspace whose period is shorter than the
//!   longest loses its older events in whole-event statements — the
//!   events, their deliveries, the deliveries' attempts and the outbox rows
//!   together, as the foreign keys used to cascade. Workspaces with the
//!   longest period wait for their day's partitions to be dropped.
//! - [`payloads`]: events older than the payload period get a NULL payload
//!   and their deliveries a NULL mapped body, in the same statement (a
//!   delivery never sends the raw payload in place of its pruned body). An
//!   event still unrouted or with a delivery not finished (`succeeded` or
//!   `failed`) keeps its payload; `retention_progress` remembers where the
//!   walk stopped, so a run reads only events it has not settled.
//! - [`idempotency_keys`]: a key goes once its event is gone and older than
//!   the workspace's period, so it is kept at least as long as its event.
//!
//! Deliveries are found by event; `id < bound` (a day past the cutoff, for
//! deliveries routed before ids were derived from their event) skips the
//! partitions of later days.

use anyhow::Context;
use chrono::Duration;
use switchyard_core::states::DeliveryStatus;
use uuid::Uuid;

use super::Report;
use super::periods::{Periods, lowest_id_at};

/// The statuses after which a delivery never sends its payload again.
const FINISHED: &[DeliveryStatus] = &[DeliveryStatus::Succeeded, DeliveryStatus::Failed];

/// Deliveries of events older than `cutoff` have ids below this.
fn delivery_bound(periods: &Periods, days: i32) -> Uuid {
    lowest_id_at(periods.now - Duration::days(i64::from(days)) + Duration::days(1))
}

/// Removes the events (with deliveries, attempts, outbox rows) older than
/// the period of each workspace whose period is shorter than the longest.
pub async fn shorter_periods(
    client: &deadpool_postgres::Object,
    periods: &Periods,
    batch: u32,
    report: &mut Report,
) -> anyhow::Result<()> {
    let longest = periods.longest_days();
    let statement = client
        .prepare(
            "WITH victims AS ( \
                 SELECT id FROM events WHERE workspace_id = $1 AND id < $2 ORDER BY id LIMIT $3 \
             ), gone_deliveries AS ( \
                 DELETE FROM deliveries \
                 WHERE event_id IN (SELECT id FROM victims) AND id < $4 RETURNING id \
             ), gone_attempts AS ( \
                 DELETE FROM delivery_attempts \
                 WHERE delivery_id IN (SELECT id FROM gone_deliveries) RETURNING 1 \
             ), gone_outbox AS ( \
                 DELETE FROM events_unrouted WHERE event_id IN (SELECT id FROM victims) \
             ), gone_events AS ( \
                 DELETE FROM events WHERE id IN (SELECT id FROM victims) RETURNING 1 \
             ) \
             SELECT (SELECT count(*) FROM gone_events), (SELECT count(*) FROM gone_deliveries), \
                    (SELECT count(*) FROM gone_attempts)",
        )
        .await
        .context("preparing the retention delete")?;
    for workspace in &periods.workspaces {
        if workspace.retention_days >= longest {
            continue;
        }
        let cutoff = periods.cutoff(workspace.retention_days);
        let bound = delivery_bound(periods, workspace.retention_days);
        loop {
            let row = client
                .query_one(
                    &statement,
                    &[
                        &workspace.workspace.as_uuid(),
                        &cutoff,
                        &i64::from(batch),
                        &bound,
                    ],
                )
                .await
                .context("removing a workspace's expired events")?;
            let events = count(row.get(0));
            report.events_removed += events;
            report.deliveries_removed += count(row.get(1));
            report.attempts_removed += count(row.get(2));
            if events < u64::from(batch) {
                break;
            }
        }
    }
    Ok(())
}

/// Prunes the payloads (and mapped bodies) older than each workspace's
/// payload period, from where the last run stopped.
///
/// A payload is kept while a delivery of its event may still send it: one
/// not yet in a [`FINISHED`] status.
pub async fn payloads(
    client: &deadpool_postgres::Object,
    periods: &Periods,
    batch: u32,
    report: &mut Report,
) -> anyhow::Result<()> {
    let statement = client
        .prepare(
            "WITH walked AS ( \
                 SELECT e.id, e.payload IS NOT NULL AS has_payload, \
                        e.payload IS NOT NULL \
                        AND NOT EXISTS (SELECT 1 FROM events_unrouted u WHERE u.event_id = e.id) \
                        AND NOT EXISTS (SELECT 1 FROM deliveries d \
                                        WHERE d.event_id = e.id AND d.id < $5 \
                                          AND d.status <> ALL($6)) AS prunable \
                 FROM events e \
                 WHERE e.workspace_id = $1 AND e.id > $2 AND e.id < $3 \
                 ORDER BY e.id LIMIT $4 \
             ), pruned AS ( \
                 UPDATE events SET payload = NULL \
                 WHERE id IN (SELECT id FROM walked WHERE prunable) RETURNING id \
             ), bodies AS ( \
                 UPDATE deliveries SET body = NULL \
                 WHERE event_id IN (SELECT id FROM pruned) AND id < $5 AND body IS NOT NULL \
                 RETURNING 1 \
             ) \
             SELECT (SELECT count(*) FROM walked), (SELECT count(*) FROM pruned), \
                    (SELECT count(*) FROM bodies), \
                    (SELECT id FROM walked ORDER BY id DESC LIMIT 1), \
                    (SELECT id FROM walked WHERE has_payload AND NOT prunable ORDER BY id LIMIT 1)",
        )
        .await
        .context("preparing the payload pruning")?;
    for workspace in &periods.workspaces {
        if workspace.payload_retention_days >= workspace.retention_days {
            continue;
        }
        let id = workspace.workspace.as_uuid();
        let cutoff = periods.cutoff(workspace.payload_retention_days);
        let bound = delivery_bound(periods, workspace.payload_retention_days);
        let mut after: Uuid = client
            .query_opt(
                "SELECT payload_pruned_through FROM retention_progress WHERE workspace_id = $1",
                &[&id],
            )
            .await
            .context("reading payload pruning progress")?
            .map(|row| row.get(0))
            .unwrap_or_else(Uuid::nil);
        let mut first_kept: Option<Uuid> = None;
        loop {
            let row = client
                .query_one(
                    &statement,
                    &[&id, &after, &cutoff, &i64::from(batch), &bound, &FINISHED],
                )
                .await
                .context("pruning a workspace's payloads")?;
            let walked = count(row.get(0));
            report.payloads_pruned += count(row.get(1));
            report.bodies_pruned += count(row.get(2));
            if first_kept.is_none() {
                first_kept = row.get(4);
            }
            match row.get::<_, Option<Uuid>>(3) {
                Some(last) => after = last,
                None => break,
            }
            if walked < u64::from(batch) {
                break;
            }
        }
        // The next run starts at the first event that kept its payload, or
        // after the last one walked.
        let through = match first_kept {
            Some(kept) => Uuid::from_u128(kept.as_u128().saturating_sub(1)),
            None => after,
        };
        client
            .execute(
                "INSERT INTO retention_progress (workspace_id, payload_pruned_through) \
                 VALUES ($1, $2) \
                 ON CONFLICT (workspace_id) DO UPDATE SET payload_pruned_through = $2",
                &[&id, &through],
            )
            .await
            .context("storing payload pruning progress")?;
    }
    Ok(())
}

/// Removes the idempotency keys whose event is gone and older than the
/// workspace's period.
pub async fn idempotency_keys(
    client: &deadpool_postgres::Object,
    periods: &Periods,
    batch: u32,
    report: &mut Report,
) -> anyhow::Result<()> {
    let statement = client
        .prepare(
            "DELETE FROM idempotency_keys WHERE (workspace_id, key) IN ( \
                 SELECT k.workspace_id, k.key FROM idempotency_keys k \
                 WHERE k.workspace_id = $1 AND k.event_id < $2 \
                   AND NOT EXISTS (SELECT 1 FROM events e WHERE e.id = k.event_id) \
                 LIMIT $3)",
        )
        .await
        .context("preparing the idempotency key pruning")?;
    for workspace in &periods.workspaces {
        let cutoff = periods.cutoff(workspace.retention_days);
        loop {
            let removed = client
                .execute(
                    &statement,
                    &[&workspace.workspace.as_uuid(), &cutoff, &i64::from(batch)],
                )
                .await
                .context("removing expired idempotency keys")?;
            report.keys_removed += removed;
            if removed < u64::from(batch) {
                break;
            }
        }
    }
    Ok(())
}

fn count(rows: i64) -> u64 {
    u64::try_from(rows).unwrap_or(0)
}
