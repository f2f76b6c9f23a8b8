//! The engine's batched round trips (see `switchyard_core::batch`): claims,
//! attempt records and released claims each become one Postgres statement
//! per batch, acknowledgements (and parked jobs) one Redis `MULTI`.
//!
//! Claims and releases run on connections with `synchronous_commit = off`:
//! they only take or give back a delivery's lease, and their commits need
//! not wait for the WAL flush. A record's commit does wait, and flushes
//! the claim before it with it, so an outcome is never stored without its
//! claim; a Postgres crash can lose only claims whose attempt was not
//! recorded yet, and such a delivery is attempted again — which the same
//! crash of the engine already means (delivery is at least once). Events,
//! deliveries and attempt records keep durable commits.

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
    /// `lease` is how long a claim holds a delivery; claims and releases
    /// use `lease_pool`, records `pool`.
    pub fn spawn(pool: &Pool, lease_pool: &Pool, queue: &JobQueue, lease: Duration) -> Self {
        let claim_pool = lease_pool.clone();
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
        let release_pool = lease_pool.clone();
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
