//! Every Redis command the engine sends, over a dedicated connection per
//! partition for the blocking `XREADGROUP` (a blocked read would stall
//! anything queued behind it on a multiplexed connection, and needs a
//! response timeout longer than the block) and a shared one for everything
//! else.
//!
//! The stream has `redis.partitions` partitions (`switchyard_delivery_model::queue`).
//! A [`JobQueue`] is a view on one of them ([`JobQueue::partitions`] gives
//! one per partition, and the runner starts the consumer, reclaimer and
//! scheduler loops once per view); the commands that concern the whole
//! queue (creating the groups, depths, acknowledgements, enqueueing) work on
//! every partition from any view. Every command and `MULTI` touches the
//! keys of one partition only, so each runs on one Redis Cluster slot.
//!
//! Acknowledging also deletes the entry (`XACK` + `XDEL` in one `MULTI`):
//! with one consumer group an acknowledged entry is never read again, and
//! the stream would otherwise grow forever. Acknowledgements are batched
//! ([`JobQueue::ack_batch`]: one `MULTI` for many entries, the jobs parked
//! for later in the same `MULTI`). A job parked in the waiting list of a
//! connection whose partition is not the entry's (only jobs that did not
//! name their connection) is written there first and acknowledged after: a
//! crash between leaves a duplicate job, which is harmless.

use std::time::Duration;

use std::sync::Arc;

use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamReadOptions, StreamReadReply,
};
use redis::{RedisError, RedisResult, Script};
use switchyard_core::config::Config;
use switchyard_core::redis_conn::{RedisConn, Target};
use switchyard_delivery_model::queue::{
    CONSUMER_GROUP, JOB_FIELD, Producer, QueueKeys, QueueLayout,
};

/// How long one `XREADGROUP` waits for new entries.
pub const READ_BLOCK: Duration = Duration::from_secs(1);
/// Entries read (or reclaimed) per call at most.
pub const READ_COUNT: usize = 64;

/// Moves up to ARGV[2] jobs due by ARGV[1] (Unix ms) from the delayed set
/// (KEYS[1]) to the stream (KEYS[2]), in one atomic step: a job is never in
/// both places, nor lost between them.
const PROMOTE_DUE: &str = r"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, job in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', ARGV[3], job)
  redis.call('ZREM', KEYS[1], job)
end
return #due
";

/// Acknowledging one entry, and maybe keeping its job for later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    pub entry_id: String,
    /// The partition the entry was read from.
    pub partition: usize,
    pub park: Option<Parking>,
}

/// Where an acknowledged entry's job goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parking {
    /// To the delayed set, due at `due_ms` (Unix ms).
    Until { job: String, due_ms: i64 },
    /// To the end of the connection's waiting list (see `super::waiting`).
    Waiting { connection: String, job: String },
}

/// How much work waits in Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Depths {
    /// Entries in the stream (new and pending).
    pub stream: u64,
    /// Entries read by a consumer but not yet acknowledged.
    pub pending: u64,
    /// Jobs parked in the delayed set (retries, held-back attempts).
    pub delayed: u64,
}

/// One stream entry; `job` is `None` when the entry has no `job` field.
#[derive(Clone, Debug)]
pub struct StreamEntry {
    pub id: String,
    pub job: Option<String>,
    /// The partition it was read from.
    pub partition: usize,
}

impl StreamEntry {
    fn read(entry: StreamId, partition: usize) -> Self {
        Self {
            job: entry.get::<String>(JOB_FIELD),
            id: entry.id,
            partition,
        }
    }
}

#[derive(Clone)]
pub struct JobQueue {
    layout: QueueLayout,
    /// The partition this view reads.
    partition: usize,
    consumer: String,
    commands: RedisConn,
    /// One blocking reader per partition.
    readers: Arc<[RedisConn]>,
    promote: Script,
}

impl JobQueue {
    /// Uses `commands` for ordinary commands and opens one reader
    /// connection per partition of `config`'s layout. The view returned is
    /// partition 0's.
    pub async fn new(config: &Config, commands: RedisConn) -> anyhow::Result<Self> {
        let layout = QueueLayout::from_config(config);
        let target = Target::from_config(config)?;
        let mut readers = Vec::with_capacity(layout.len());
        for _ in 0..layout.len() {
            readers.push(
                target
                    .connect_with_timeout(READ_BLOCK + Duration::from_secs(5))
                    .await?,
            );
        }
        Ok(Self {
            layout,
            partition: 0,
            consumer: consumer_name(),
            commands,
            readers: readers.into(),
            promote: Script::new(PROMOTE_DUE),
        })
    }

    /// One view per partition, in order.
    pub fn partitions(&self) -> Vec<JobQueue> {
        (0..self.layout.len())
            .map(|partition| Self {
                partition,
                ..self.clone()
            })
            .collect()
    }

    /// This process's name within the consumer group.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// Creates every partition's stream and consumer group if either is
    /// missing. Starting from `0` means a group recreated over a surviving
    /// stream still sees its entries; duplicates are harmless.
    pub async fn ensure_group(&self) -> RedisResult<()> {
        for keys in self.layout.partitions() {
            let created: RedisResult<()> = redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(&keys.stream)
                .arg(CONSUMER_GROUP)
                .arg("0")
                .arg("MKSTREAM")
                .query_async(&mut self.commands.clone())
                .await;
            match created {
                Err(error) if error.code() == Some("BUSYGROUP") => {}
                other => other?,
            }
        }
        Ok(())
    }

    /// Entries in the streams, of those the ones read but not acknowledged,
    /// and jobs parked in the delayed sets, over every partition — read in
    /// one pipeline per partition.
    pub async fn depths(&self) -> RedisResult<Depths> {
        let mut total = Depths {
            stream: 0,
            pending: 0,
            delayed: 0,
        };
        for keys in self.layout.partitions() {
            let (stream, pending, delayed): (u64, redis::Value, u64) = redis::pipe()
                .cmd("XLEN")
                .arg(&keys.stream)
                .cmd("XPENDING")
                .arg(&keys.stream)
                .arg(CONSUMER_GROUP)
                .cmd("ZCARD")
                .arg(&keys.delayed)
                .query_async(&mut self.commands.clone())
                .await?;
            // The summary form answers `[count, lowest id, highest id, consumers]`.
            let pending = match pending {
                redis::Value::Array(items) => match items.first() {
                    Some(redis::Value::Int(count)) => u64::try_from(*count).unwrap_or(0),
                    _ => 0,
                },
                _ => 0,
            };
            total.stream += stream;
            total.pending += pending;
            total.delayed += delayed;
        }
        Ok(total)
    }

    /// New entries of this view's partition for this consumer, waiting up
    /// to [`READ_BLOCK`].
    pub async fn read_new(&self, count: usize) -> RedisResult<Vec<StreamEntry>> {
        let options = StreamReadOptions::default()
            .group(CONSUMER_GROUP, &self.consumer)
            .count(count)
            .block(millis(READ_BLOCK));
        let mut reader = self.readers[self.partition].clone();
        let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg(&options)
            .arg("STREAMS")
            .arg(&self.keys().stream)
            .arg(">")
            .query_async(&mut reader)
            .await?;
        Ok(reply
            .into_iter()
            .flat_map(|reply| reply.keys)
            .flat_map(|key| key.ids)
            .map(|entry| StreamEntry::read(entry, self.partition))
            .collect())
    }

    /// Takes over entries of this view's partition idle for at least
    /// `min_idle`, scanning the pending list from `start`; returns the
    /// cursor for the next call (`0-0` once the scan is complete) and the
    /// entries now ours.
    pub async fn claim_idle(
        &self,
        min_idle: Duration,
        start: &str,
        count: usize,
    ) -> RedisResult<(String, Vec<StreamEntry>)> {
        let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(&self.keys().stream)
            .arg(CONSUMER_GROUP)
            .arg(&self.consumer)
            .arg(millis(min_idle))
            .arg(start)
            .arg(StreamAutoClaimOptions::default().count(count))
            .query_async(&mut self.commands.clone())
            .await?;
        let entries = reply
            .claimed
            .into_iter()
            .map(|entry| StreamEntry::read(entry, self.partition))
            .collect();
        Ok((reply.next_stream_id, entries))
    }

    /// Acknowledges (and drops) finished entries of any partition, parking
    /// the jobs that come with a due time in the delayed set and those of a
    /// full connection in its waiting list, in one `MULTI` per partition: a
    /// parked job is never in neither place.
    pub async fn ack_batch(&self, acks: &[Ack]) -> RedisResult<()> {
        let mut by_partition: Vec<Vec<&Ack>> = vec![Vec::new(); self.layout.len()];
        for ack in acks {
            by_partition[ack.partition % self.layout.len()].push(ack);
        }
        for (partition, acks) in by_partition.iter().enumerate() {
            if !acks.is_empty() {
                self.ack_partition(partition, acks).await?;
            }
        }
        Ok(())
    }

    async fn ack_partition(&self, partition: usize, acks: &[&Ack]) -> RedisResult<()> {
        let keys = self.layout.keys(partition);
        let mut pipe = redis::pipe();
        pipe.atomic();
        let mut delayed: Vec<(i64, &str)> = Vec::new();
        for park in acks.iter().filter_map(|ack| ack.park.as_ref()) {
            match park {
                Parking::Until { job, due_ms } => delayed.push((*due_ms, job)),
                Parking::Waiting { connection, job } => {
                    let home = self.layout.partition_of_connection(connection);
                    if home == partition {
                        Producer::add_waiting(keys, &mut pipe, connection, job);
                    } else {
                        // Another slot: written before the acknowledgement.
                        let mut foreign = redis::pipe();
                        foreign.atomic();
                        Producer::add_waiting(
                            self.layout.keys(home),
                            &mut foreign,
                            connection,
                            job,
                        );
                        foreign
                            .query_async::<()>(&mut self.commands.clone())
                            .await?;
                    }
                }
            }
        }
        Producer::add_delayed(keys, &mut pipe, &delayed);
        let ids: Vec<&str> = acks.iter().map(|ack| ack.entry_id.as_str()).collect();
        pipe.cmd("XACK")
            .arg(&keys.stream)
            .arg(CONSUMER_GROUP)
            .arg(&ids)
            .ignore()
            .cmd("XDEL")
            .arg(&keys.stream)
            .arg(&ids)
            .ignore();
        pipe.query_async(&mut self.commands.clone()).await
    }

    /// Moves up to `limit` jobs of this view's partition due by `now_ms` to
    /// its stream; returns how many moved.
    pub async fn promote_due(&self, now_ms: i64, limit: usize) -> RedisResult<usize> {
        let keys = self.keys();
        self.promote
            .key(&keys.delayed)
            .key(&keys.stream)
            .arg(now_ms)
            .arg(limit)
            .arg(JOB_FIELD)
            .invoke_async(&mut self.commands.clone())
            .await
    }

    /// Appends serialized jobs to their partitions' streams, one round trip
    /// per partition.
    pub async fn enqueue(&self, jobs: &[String]) -> RedisResult<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        let producer = self.producer();
        producer.ready_json(producer.split_json(jobs)).await
    }

    /// The keys of this view's partition.
    pub fn keys(&self) -> &QueueKeys {
        self.layout.keys(self.partition)
    }

    /// Every partition's keys.
    pub fn layout(&self) -> &QueueLayout {
        &self.layout
    }

    /// The queue's command connection (shared, multiplexed).
    pub fn commands(&self) -> RedisConn {
        self.commands.clone()
    }

    /// The queue's producer over this queue's connection.
    pub fn producer(&self) -> Producer {
        Producer::new(self.commands.clone(), self.layout.clone())
    }
}

/// True when the stream or the consumer group no longer exists (Redis
/// restarted empty, the key was deleted): recreate the group and go on.
/// `UNBLOCKED` is what a read blocked on a stream gets when its key is
/// deleted under it.
pub fn is_missing_group(error: &RedisError) -> bool {
    matches!(error.code(), Some("NOGROUP" | "UNBLOCKED"))
}

/// `host-pid-random`: unique per process, readable in `XINFO CONSUMERS`.
fn consumer_name() -> String {
    let host = hostname::get()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".to_string());
    format!(
        "{host}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

fn millis(duration: Duration) -> usize {
    usize::try_from(duration.as_millis()).unwrap_or(usize::MAX)
}
