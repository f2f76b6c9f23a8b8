//! Jobs waiting for a full connection: a connection that already runs its
//! in-process cap of attempts (a destination that hangs or answers slowly)
//! gets its further jobs set aside in its own Redis list, in order, instead
//! of cycling them through the shared stream and the delayed set. The
//! stream then carries only work that can run, so the healthy connections'
//! jobs never queue behind a slow one's backlog.
//!
//! - Setting aside happens in the acknowledgement's `MULTI`
//!   ([`super::queue::Parking::Waiting`]): the entry leaves the stream and
//!   its job lands in the list at once, never in neither place.
//! - Taking over: each attempt to that connection that ends frees a slot;
//!   the task that ran it [`Waiting::pop`]s the oldest waiting job and runs
//!   it in the same slot (`Attempter::run_waiting`). The list drains at the
//!   rate the destination answers, whatever its length.
//! - Rescue: a list whose head has not moved for a [`RESCUE_INTERVAL`]
//!   while this process has a free slot for that connection (its attempts
//!   ended before the last jobs were set aside, or the process running them
//!   died) has that many jobs moved back to the stream ([`run`]).
//!
//! A connection's list (and the set naming it) lives in the connection's
//! stream partition (`QueueLayout::partition_of_connection`), so each
//! script touches one partition's keys; rescue rounds visit every
//! partition.
//!
//! A job taken from a list lives only in this process until its outcome is
//! recorded. If the process dies then, the delivery stays due in Postgres
//! and the sweeper gives it a fresh job: as everywhere, Redis holds hints
//! and Postgres the truth.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::{RedisResult, Script};
use switchyard_core::ids::ConnectionId;
use switchyard_core::redis_conn::RedisConn;
use switchyard_core::shutdown::{self, Signal};
use switchyard_delivery_model::queue::{JOB_FIELD, Producer, QueueKeys, QueueLayout};

use super::gate::Gate;

/// How often lists whose head stands still are looked at.
pub const RESCUE_INTERVAL: Duration = Duration::from_secs(1);

/// Takes the oldest job of list KEYS[1]; once the list is empty, removes
/// connection ARGV[1] from the set KEYS[2] in the same step, so a job set
/// aside concurrently (`RPUSH` + `SADD` in one `MULTI`) is never left out
/// of the set.
const POP: &str = r"
local job = redis.call('LPOP', KEYS[1])
if redis.call('LLEN', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[2], ARGV[1])
end
return job
";

/// If the head of list KEYS[1] is still ARGV[1], moves up to ARGV[2] jobs
/// from it to the stream KEYS[2] (field ARGV[3]). Removes connection
/// ARGV[4] from the set KEYS[3] once its list is empty. Answers the number
/// moved and the head now ('' when empty).
const RESCUE: &str = r"
local head = redis.call('LINDEX', KEYS[1], 0)
local moved = 0
if head and head == ARGV[1] then
  for _ = 1, tonumber(ARGV[2]) do
    local job = redis.call('LPOP', KEYS[1])
    if not job then break end
    redis.call('XADD', KEYS[2], '*', ARGV[3], job)
    moved = moved + 1
  end
  head = redis.call('LINDEX', KEYS[1], 0)
end
if not head then
  redis.call('SREM', KEYS[3], ARGV[4])
  head = ''
end
return {moved, head}
";

/// The waiting lists; cheap to clone.
#[derive(Clone)]
pub struct Waiting {
    inner: Arc<Inner>,
}

struct Inner {
    redis: RedisConn,
    layout: QueueLayout,
    pop: Script,
    rescue: Script,
    /// Connections that may have waiting jobs: added when this process sets
    /// one aside and from Redis every rescue round (another replica's
    /// lists), removed when a list is found empty. Lets an ending attempt of a connection without
    /// a list skip the round trip.
    known: Mutex<HashSet<ConnectionId>>,
    /// The head of each list at the last rescue round.
    heads: Mutex<HashMap<ConnectionId, String>>,
}

impl Waiting {
    pub fn new(redis: RedisConn, layout: QueueLayout) -> Self {
        Self {
            inner: Arc::new(Inner {
                redis,
                layout,
                pop: Script::new(POP),
                rescue: Script::new(RESCUE),
                known: Mutex::default(),
                heads: Mutex::default(),
            }),
        }
    }

    /// The keys of the partition holding `connection`'s list.
    fn keys_of(&self, connection: &str) -> &QueueKeys {
        let layout = &self.inner.layout;
        layout.keys(layout.partition_of_connection(connection))
    }

    /// Remembers that `connection` has jobs waiting (one was just set aside).
    pub fn note(&self, connection: ConnectionId) {
        if let Ok(mut known) = self.inner.known.lock() {
            known.insert(connection);
        }
    }

    /// True when `connection` may have waiting jobs.
    pub fn may_have(&self, connection: ConnectionId) -> bool {
        self.inner
            .known
            .lock()
            .is_ok_and(|known| known.contains(&connection))
    }

    /// The oldest waiting job of `connection`, taken off its list.
    pub async fn pop(&self, connection: ConnectionId) -> RedisResult<Option<String>> {
        let name = connection.to_string();
        let keys = self.keys_of(&name);
        let job: Option<String> = self
            .inner
            .pop
            .key(keys.waiting_list(&name))
            .key(&keys.waiting)
            .arg(&name)
            .invoke_async(&mut self.inner.redis.clone())
            .await?;
        if job.is_none() {
            self.forget(connection);
        }
        Ok(job)
    }

    /// Puts a job taken off the list back at its head (the connection
    /// filled up again before it could run).
    pub async fn push_front(&self, connection: ConnectionId, job: &str) -> RedisResult<()> {
        let name = connection.to_string();
        let keys = self.keys_of(&name);
        redis::pipe()
            .atomic()
            .cmd("LPUSH")
            .arg(keys.waiting_list(&name))
            .arg(job)
            .ignore()
            .cmd("SADD")
            .arg(&keys.waiting)
            .arg(&name)
            .ignore()
            .query_async::<()>(&mut self.inner.redis.clone())
            .await?;
        self.note(connection);
        Ok(())
    }

    /// Parks a job taken off a list in the delayed set until `due_ms`.
    pub async fn park_until(&self, job: &str, due_ms: i64) -> RedisResult<()> {
        let mut pipe = redis::pipe();
        let layout = &self.inner.layout;
        let keys = layout.keys(layout.partition_of_json(job));
        Producer::add_delayed(keys, &mut pipe, &[(due_ms, job)]);
        pipe.query_async::<()>(&mut self.inner.redis.clone()).await
    }

    fn forget(&self, connection: ConnectionId) {
        if let Ok(mut known) = self.inner.known.lock() {
            known.remove(&connection);
        }
    }

    /// One rescue round: adds other replicas' lists to [`Self::may_have`], and moves
    /// jobs of lists whose head stood still since the last round back to
    /// the stream, as many as this process has free slots for. Returns the
    /// number moved.
    pub async fn rescue(&self, gate: &Gate) -> RedisResult<usize> {
        let mut moved_total = 0;
        let mut heads = HashMap::new();
        for keys in self.inner.layout.partitions() {
            moved_total += self.rescue_partition(gate, keys, &mut heads).await?;
        }
        if let Ok(mut known_heads) = self.inner.heads.lock() {
            *known_heads = heads;
        }
        Ok(moved_total)
    }

    /// One rescue round over the lists of one partition; records the heads
    /// seen in `heads`.
    async fn rescue_partition(
        &self,
        gate: &Gate,
        keys: &QueueKeys,
        heads: &mut HashMap<ConnectionId, String>,
    ) -> RedisResult<usize> {
        let members: Vec<String> = redis::cmd("SMEMBERS")
            .arg(&keys.waiting)
            .query_async(&mut self.inner.redis.clone())
            .await?;
        let connections: Vec<ConnectionId> = members
            .iter()
            .filter_map(|member| ConnectionId::parse(member).ok())
            .collect();
        if let Ok(mut known) = self.inner.known.lock() {
            known.extend(connections.iter().copied());
        }
        let mut moved_total = 0;
        for connection in connections {
            let name = connection.to_string();
            let previous = self
                .inner
                .heads
                .lock()
                .ok()
                .and_then(|heads| heads.get(&connection).cloned())
                .unwrap_or_default();
            let room = gate.room(connection);
            let (moved, head): (usize, String) = self
                .inner
                .rescue
                .key(keys.waiting_list(&name))
                .key(&keys.stream)
                .key(&keys.waiting)
                .arg(if room == 0 { "" } else { previous.as_str() })
                .arg(room)
                .arg(JOB_FIELD)
                .arg(&name)
                .invoke_async(&mut self.inner.redis.clone())
                .await?;
            if moved > 0 {
                tracing::info!(
                    connection_id = %connection,
                    moved,
                    "waiting jobs had no attempt to take them over; moved back to the stream"
                );
            }
            moved_total += moved;
            if head.is_empty() {
                self.forget(connection);
            } else {
                heads.insert(connection, head);
            }
        }
        Ok(moved_total)
    }
}

/// Runs rescue rounds every [`RESCUE_INTERVAL`] until shutdown.
pub async fn run(waiting: Waiting, gate: Gate, shutdown: Signal) {
    shutdown::every(RESCUE_INTERVAL, shutdown, || async {
        if let Err(error) = waiting.rescue(&gate).await {
            tracing::warn!(%error, "looking at the waiting lists failed");
        }
    })
    .await;
    tracing::debug!("waiting-list rescue stopped");
}
