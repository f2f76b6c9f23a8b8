//! `--preload`: the delivery engine alone. Instead of emitting through
//! ingest and the router, the bench writes events and their deliveries
//! straight into Postgres and their jobs onto the stream — what the router
//! does, a batch per round trip — at the requested rate (or as fast as it
//! can), so the report measures delivery (claim, send, record,
//! acknowledge) without the front of the pipeline. Latency then runs from
//! the enqueue to the receiver.

use std::time::{Duration, Instant};

use anyhow::Context;
use deadpool_postgres::Pool;
use switchyard_core::ids::{ConnectionId, DeliveryId, EventId, RuleId, WorkspaceId};
use switchyard_delivery_model::queue::{DeliveryJob, Producer, QueueLayout};

use super::emitter::{EmitPlan, Emitted};
use super::receivers::unix_micros;

/// Events per batch when there is no rate to follow.
const MAX_BATCH: usize = 500;
/// Batches per second when pacing.
const TICKS_PER_SECOND: f64 = 20.0;

pub struct Preloader {
    pub pool: Pool,
    pub redis: switchyard_core::redis_conn::RedisConn,
    pub layout: QueueLayout,
    pub workspace: WorkspaceId,
    /// Every event gets one delivery per rule.
    pub rules: Vec<(RuleId, ConnectionId)>,
}

impl Preloader {
    pub async fn run(&self, plan: &EmitPlan) -> anyhow::Result<Emitted> {
        let started = Instant::now();
        let padding = "x".repeat(plan.payload_bytes.saturating_sub(64));
        let mut outcome = Emitted::default();
        let mut written = 0u64;
        while started.elapsed() < plan.duration {
            let batch = if plan.rate > 0.0 {
                let due = (started.elapsed().as_secs_f64() * plan.rate) as u64 + 1;
                let batch = usize::try_from(due.saturating_sub(written)).unwrap_or(0);
                if batch == 0 {
                    tokio::time::sleep(Duration::from_secs_f64(1.0 / TICKS_PER_SECOND)).await;
                    continue;
                }
                batch.min(MAX_BATCH * 4)
            } else {
                MAX_BATCH
            };
            let call = Instant::now();
            self.write(plan, batch, written, &padding).await?;
            let took = u64::try_from(call.elapsed().as_micros()).unwrap_or(0);
            outcome
                .latencies_us
                .extend(std::iter::repeat_n(took, batch));
            written += batch as u64;
        }
        outcome.accepted = written;
        outcome.elapsed = started.elapsed();
        Ok(outcome)
    }

    /// `count` events, their deliveries and jobs.
    async fn write(
        &self,
        plan: &EmitPlan,
        count: usize,
        first_seq: u64,
        padding: &str,
    ) -> anyhow::Result<()> {
        let events: Vec<EventId> = (0..count).map(|_| EventId::generate()).collect();
        let sent_at = unix_micros();
        let payloads: Vec<serde_json::Value> = (0..count)
            .map(|n| {
                serde_json::json!({
                    "seq": first_seq + n as u64, "sent_at_us": sent_at, "pad": padding
                })
            })
            .collect();
        let mut delivery_ids = Vec::new();
        let mut delivery_events = Vec::new();
        let mut rule_ids = Vec::new();
        let mut connection_ids = Vec::new();
        for event in &events {
            for (rule, connection) in &self.rules {
                delivery_ids.push(DeliveryId::for_event_rule(*event, *rule));
                delivery_events.push(event.as_uuid());
                rule_ids.push(rule.as_uuid());
                connection_ids.push(connection.as_uuid());
            }
        }
        let event_ids: Vec<_> = events.iter().map(|e| e.as_uuid()).collect();
        let ids: Vec<_> = delivery_ids.iter().map(|d| d.as_uuid()).collect();
        let client = self.pool.get().await.context("connecting to Postgres")?;
        client
            .execute(
                "WITH events_in AS ( \
                    INSERT INTO events (id, workspace_id, event_type, schema_version, payload) \
                    SELECT e.id, $1, $2, 1, e.payload \
                    FROM unnest($3::uuid[], $4::jsonb[]) AS e (id, payload) \
                 ) \
                 INSERT INTO deliveries (id, workspace_id, event_id, rule_id, connection_id, enqueued_at) \
                 SELECT d.id, $1, d.event_id, d.rule_id, d.connection_id, now() \
                 FROM unnest($5::uuid[], $6::uuid[], $7::uuid[], $8::uuid[]) \
                      AS d (id, event_id, rule_id, connection_id)",
                &[
                    &self.workspace.as_uuid(),
                    &plan.event_type,
                    &event_ids,
                    &payloads,
                    &ids,
                    &delivery_events,
                    &rule_ids,
                    &connection_ids,
                ],
            )
            .await
            .context("writing events and deliveries")?;
        let jobs: Vec<DeliveryJob> = delivery_ids
            .iter()
            .map(|delivery| DeliveryJob::new(self.workspace.to_string(), delivery.to_string()))
            .collect();
        Producer::new(self.redis.clone(), self.layout.clone())
            .ready(&jobs)
            .await
            .context("enqueueing jobs")?;
        Ok(())
    }
}
