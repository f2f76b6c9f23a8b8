//! The engine's batched round trips (see `switchyard_core::batch`): claims,
//! attempt records and released claims each become one Postgres statement
//! per batch, acknowledgements (and parked jobs) one Redis `MULTI`.
//!
//! Releases run on connections with `synchronous_commit = off`: a release
//! only gives back a lease before any request was sent, and losing one in
//! a Postgres crash leaves the delivery leased until its lease expires.
//! Claims stay durable: the routing transaction that created a delivery
//! commits without waiting for its WAL flush, and the claim's flush is what
//! makes the delivery (and its `webhook-id`) durable before its first
//! request goes out — a crash can then never re-route an event whose
//! webhook was already sent under another id.

use std::time::Duration;

use deadpool_postgres::Pool;
use switchyard_core::ids::{DeliveryId, WorkspaceId};

use super::queue::{Ack, JobQueue};
use crate::store::jobs::{self, AttemptRecord, ClaimOutcome, Release};
use switchyard_core::batch::Batcher;

/// Items per batch at most.
const MAX_BATCH: usize = 256;
/// Batches of one kind in flight at once (each holds a pooled connection).
const PARALLEL: usize = 1;

#[derive(Clone)]
pub struct Writers {
    pub claims: Batcher<(WorkspaceId, DeliveryId), ClaimOutcome>,
    /// True when the batch still owned the delivery (see [`jobs::record`]).
    pub records: Batcher<AttemptRecord, bool>,
    pub releases: Batcher<Release, ()>,
    pub acks: Batcher<Ack, ()>,
}

impl Writers {
    /// `lease` is how long a claim holds a delivery; releases use
    /// `relaxed_pool`, claims and records `pool`.
    pub fn spawn(pool: &Pool, relaxed_pool: &Pool, queue: &JobQueue, lease: Duration) -> Self {
        let claim_pool = pool.clone();
        let claims = Batcher::spawn("claim", MAX_BATCH, PARALLEL, move |requests| {
            let pool = claim_pool.clone();
            async move { jobs::claim(&pool, &requests, lease).await }
        });
        let record_pool = pool.clone();
        let records = Batcher::spawn(
            "record",
            MAX_BATCH,
            PARALLEL,
            move |records: Vec<AttemptRecord>| {
                let pool = record_pool.clone();
                async move {
                    let owned = jobs::record(&pool, &records).await?;
                    Ok(records
                        .iter()
                        .map(|record| owned.contains(&record.delivery.as_uuid()))
                        .collect())
                }
            },
        );
        let release_pool = relaxed_pool.clone();
        let releases = Batcher::spawn("release", MAX_BATCH, 1, move |releases: Vec<Release>| {
            let pool = release_pool.clone();
            async move {
                jobs::release(&pool, &releases).await?;
                Ok(vec![(); releases.len()])
            }
        });
        let ack_queue = queue.clone();
        let acks = Batcher::spawn("ack", MAX_BATCH, PARALLEL, move |acks: Vec<Ack>| {
            let queue = ack_queue.clone();
            async move {
                queue.ack_batch(&acks).await?;
                Ok(vec![(); acks.len()])
            }
        });
        Self {
            claims,
            records,
            releases,
            acks,
        }
    }
}
