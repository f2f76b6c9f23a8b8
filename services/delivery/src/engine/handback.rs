//! Handing work back at a stop (SIGTERM, a rolling restart), so another
//! replica takes it at once instead of after the visibility timeout:
//!
//! 1. While running, [`Holdings`] knows what this process holds outside
//!    the stream's pending list: the claims of attempts under way (a
//!    delivery leased to this process in Postgres) and the jobs taken off
//!    a connection's waiting list (they live only in this process until
//!    recorded). Each attempt registers them and drops them when it ends.
//! 2. The runner stops reading, lets attempts finish for
//!    `delivery.shutdown_grace`, then takes a [`Snapshot`] of what is still
//!    held and cuts the remaining attempts (`Dispatcher::cut`).
//! 3. [`hand_back`] releases the snapshot's claims (the attempt count goes
//!    back down, the delivery is due now: no attempt is spent), appends the
//!    waiting jobs to the stream, and moves every entry still pending for
//!    this consumer to the end of the stream — copy, `XACK`, `XDEL` in one
//!    Lua script — which then removes the consumer from the group
//!    (`XGROUP DELCONSUMER`) once its pending list is empty.
//!
//! Every step is guarded, so racing an attempt that ended on its own is
//! harmless: a release matches only a delivery still `delivering` under the
//! same attempt number, and a job handed back for a delivery already
//! recorded finds nothing to claim. An attempt cut after its request left
//! may have reached the receiver: it is sent again under the same
//! `webhook-id` (the at-least-once window, as for a crash). A claim whose
//! batch was still in the writer's hands at the cut is not in the snapshot;
//! its job comes back after its lease, like a crashed consumer's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use deadpool_postgres::Pool;
use redis::Script;
use switchyard_core::ids::DeliveryId;
use switchyard_delivery_model::queue::{CONSUMER_GROUP, JOB_FIELD};

use super::queue::{JobQueue, READ_COUNT};
use crate::store::jobs::{self, Release};

/// Moves up to ARGV[3] entries pending for consumer ARGV[2] of group
/// ARGV[1] on stream KEYS[1] to the end of the stream (their `ARGV[4]`
/// field copied into a new entry, the old one acknowledged and deleted).
/// When none is left pending, deletes the consumer. Answers the number
/// moved and 1 once the consumer is gone.
const HAND_BACK: &str = r"
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', tonumber(ARGV[3]), ARGV[2])
local moved = 0
for _, item in ipairs(pending) do
  local id = item[1]
  local found = redis.call('XRANGE', KEYS[1], id, id)
  if found[1] then
    local fields = found[1][2]
    for i = 1, #fields, 2 do
      if fields[i] == ARGV[4] then
        redis.call('XADD', KEYS[1], '*', ARGV[4], fields[i + 1])
        moved = moved + 1
      end
    end
  end
  redis.call('XACK', KEYS[1], ARGV[1], id)
  redis.call('XDEL', KEYS[1], id)
end
if #pending < tonumber(ARGV[3]) then
  redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
  return {moved, 1}
end
return {moved, 0}
";

/// Rounds of [`HAND_BACK`] at most: a pending list is bounded by
/// `delivery.max_in_flight`, far below this many batches.
const MAX_ROUNDS: usize = 1024;

/// What this process holds outside the stream; cheap to clone.
#[derive(Clone, Default)]
pub struct Holdings {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    claims: Mutex<HashMap<DeliveryId, u32>>,
    waiting: Mutex<HashMap<u64, String>>,
    next_token: AtomicU64,
}

/// Holds one item until dropped (the attempt ended, or was cut).
pub struct Held {
    inner: Arc<Inner>,
    item: Item,
}

enum Item {
    Claim(DeliveryId),
    Waiting(u64),
}

impl Drop for Held {
    fn drop(&mut self) {
        match self.item {
            Item::Claim(delivery) => {
                if let Ok(mut claims) = self.inner.claims.lock() {
                    claims.remove(&delivery);
                }
            }
            Item::Waiting(token) => {
                if let Ok(mut waiting) = self.inner.waiting.lock() {
                    waiting.remove(&token);
                }
            }
        }
    }
}

impl Holdings {
    /// `delivery` is claimed by this process for attempt `attempt`.
    pub fn claim(&self, delivery: DeliveryId, attempt: u32) -> Held {
        if let Ok(mut claims) = self.inner.claims.lock() {
            claims.insert(delivery, attempt);
        }
        Held {
            inner: Arc::clone(&self.inner),
            item: Item::Claim(delivery),
        }
    }

    /// `job` was taken off a waiting list and has no stream entry.
    pub fn waiting_job(&self, job: &str) -> Held {
        let token = self.inner.next_token.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut waiting) = self.inner.waiting.lock() {
            waiting.insert(token, job.to_string());
        }
        Held {
            inner: Arc::clone(&self.inner),
            item: Item::Waiting(token),
        }
    }

    /// What is held now.
    pub fn snapshot(&self) -> Snapshot {
        let claims = self
            .inner
            .claims
            .lock()
            .map(|claims| claims.iter().map(|(d, a)| (*d, *a)).collect())
            .unwrap_or_default();
        let waiting_jobs = self
            .inner
            .waiting
            .lock()
            .map(|waiting| waiting.values().cloned().collect())
            .unwrap_or_default();
        Snapshot {
            claims,
            waiting_jobs,
        }
    }
}

/// Claims and waiting jobs held at the cut.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub claims: Vec<(DeliveryId, u32)>,
    pub waiting_jobs: Vec<String>,
}

/// What [`hand_back`] did, for the log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct HandedBack {
    pub claims_released: usize,
    pub waiting_jobs_requeued: usize,
    pub entries_requeued: usize,
    pub left_group: bool,
}

/// Gives everything in `held` and this consumer's pending entries back
/// (see the module doc), then leaves the consumer group.
pub async fn hand_back(
    pool: &Pool,
    queue: &JobQueue,
    held: Snapshot,
) -> anyhow::Result<HandedBack> {
    let mut report = HandedBack::default();
    // Claims first: a job handed back must find its delivery due, not
    // leased to this process until the lease runs out.
    if !held.claims.is_empty() {
        let now = chrono::Utc::now();
        let releases: Vec<Release> = held
            .claims
            .iter()
            .map(|&(delivery, attempt)| Release {
                delivery,
                attempt,
                due: now,
            })
            .collect();
        jobs::release(pool, &releases)
            .await
            .context("releasing the claims of cut attempts")?;
        report.claims_released = releases.len();
    }
    if !held.waiting_jobs.is_empty() {
        queue
            .enqueue(&held.waiting_jobs)
            .await
            .context("re-queueing jobs taken off waiting lists")?;
        report.waiting_jobs_requeued = held.waiting_jobs.len();
    }
    // Every partition's pending entries go back to their own stream, and
    // the consumer leaves each partition's group.
    let script = Script::new(HAND_BACK);
    let mut left_every_group = true;
    for partition in queue.partitions() {
        let mut redis = partition.commands();
        let mut left = false;
        for _ in 0..MAX_ROUNDS {
            let (moved, gone): (usize, u8) = script
                .key(&partition.keys().stream)
                .arg(CONSUMER_GROUP)
                .arg(partition.consumer())
                .arg(READ_COUNT)
                .arg(JOB_FIELD)
                .invoke_async(&mut redis)
                .await
                .context("handing pending entries back to the stream")?;
            report.entries_requeued += moved;
            if gone == 1 {
                left = true;
                break;
            }
        }
        left_every_group &= left;
    }
    report.left_group = left_every_group;
    Ok(report)
}
