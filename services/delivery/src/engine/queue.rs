//! Every Redis command the engine sends, over two connections: a dedicated
//! one for the blocking `XREADGROUP` (a blocked read would stall anything
//! queued behind it on a multiplexed connection, and needs a response
//! timeout longer than the block) and a shared one for everything else.
//!
//! Acknowledging also deletes the entry (`XACK` + `XDEL` in one `MULTI`):
//! with one consumer group an acknowledged entry is never read again, and
//! the stream would otherwise grow forever. Acknowledgements are batched
//! ([`JobQueue::ack_batch`]: one `MULTI` for many entries, the jobs parked
//! for later in the same `MULTI`).

use std::time::Duration;

use anyhow::Context;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamReadOptions, StreamReadReply,
};
use redis::{RedisError, RedisResult, Script};
use switchyard_core::queue::{CONSUMER_GROUP, JOB_FIELD, Producer, QueueKeys};

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
}

impl From<StreamId> for StreamEntry {
    fn from(entry: StreamId) -> Self {
        Self {
            job: entry.get::<String>(JOB_FIELD),
            id: entry.id,
        }
    }
}

#[derive(Clone)]
pub struct JobQueue {
    keys: QueueKeys,
    consumer: String,
    commands: ConnectionManager,
    reader: ConnectionManager,
    promote: Script,
}

impl JobQueue {
    /// Uses `commands` for ordinary commands and opens the reader's own
    /// connection to `redis_url`.
    pub async fn new(
        redis_prefix: &str,
        redis_url: &str,
        commands: ConnectionManager,
    ) -> anyhow::Result<Self> {
        let client = redis::Client::open(redis_url)
            .with_context(|| format!("invalid Redis URL {redis_url}"))?;
        let reader_config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(READ_BLOCK + Duration::from_secs(5)));
        let reader = ConnectionManager::new_with_config(client, reader_config)
            .await
            .with_context(|| format!("connecting to Redis at {redis_url}"))?;
        Ok(Self {
            keys: QueueKeys::new(redis_prefix),
            consumer: consumer_name(),
            commands,
            reader,
            promote: Script::new(PROMOTE_DUE),
        })
    }

    /// This process's name within the consumer group.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// Creates the stream and the consumer group if either is missing.
    /// Starting from `0` means a group recreated over a surviving stream
    /// still sees its entries; duplicates are harmless.
    pub async fn ensure_group(&self) -> RedisResult<()> {
        let created: RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.keys.stream)
            .arg(CONSUMER_GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut self.commands.clone())
            .await;
        match created {
            Err(error) if error.code() == Some("BUSYGROUP") => Ok(()),
            other => other,
        }
    }

    /// Entries in the stream, of those the ones read but not acknowledged,
    /// and jobs parked in the delayed set — read in one pipeline.
    pub async fn depths(&self) -> RedisResult<Depths> {
        let (stream, pending, delayed): (u64, redis::Value, u64) = redis::pipe()
            .cmd("XLEN")
            .arg(&self.keys.stream)
            .cmd("XPENDING")
            .arg(&self.keys.stream)
            .arg(CONSUMER_GROUP)
            .cmd("ZCARD")
            .arg(&self.keys.delayed)
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
        Ok(Depths {
            stream,
            pending,
            delayed,
        })
    }

    /// New entries for this consumer, waiting up to [`READ_BLOCK`].
    pub async fn read_new(&self, count: usize) -> RedisResult<Vec<StreamEntry>> {
        let options = StreamReadOptions::default()
            .group(CONSUMER_GROUP, &self.consumer)
            .count(count)
            .block(millis(READ_BLOCK));
        let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg(&options)
            .arg("STREAMS")
            .arg(&self.keys.stream)
            .arg(">")
            .query_async(&mut self.reader.clone())
            .await?;
        Ok(reply
            .into_iter()
            .flat_map(|reply| reply.keys)
            .flat_map(|key| key.ids)
            .map(StreamEntry::from)
            .collect())
    }

    /// Takes over entries idle for at least `min_idle`, scanning the
    /// pending list from `start`; returns the cursor for the next call
    /// (`0-0` once the scan is complete) and the entries now ours.
    pub async fn claim_idle(
        &self,
        min_idle: Duration,
        start: &str,
        count: usize,
    ) -> RedisResult<(String, Vec<StreamEntry>)> {
        let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(&self.keys.stream)
            .arg(CONSUMER_GROUP)
            .arg(&self.consumer)
            .arg(millis(min_idle))
            .arg(start)
            .arg(StreamAutoClaimOptions::default().count(count))
            .query_async(&mut self.commands.clone())
            .await?;
        let entries = reply.claimed.into_iter().map(StreamEntry::from).collect();
        Ok((reply.next_stream_id, entries))
    }

    /// Acknowledges (and drops) finished entries, parking the jobs that
    /// come with a due time in the delayed set and those of a full
    /// connection in its waiting list, all in one `MULTI`: a parked job is
    /// never in neither place.
    pub async fn ack_batch(&self, acks: &[Ack]) -> RedisResult<()> {
        if acks.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        let mut delayed: Vec<(i64, &str)> = Vec::new();
        for park in acks.iter().filter_map(|ack| ack.park.as_ref()) {
            match park {
                Parking::Until { job, due_ms } => delayed.push((*due_ms, job)),
                Parking::Waiting { connection, job } => {
                    Producer::add_waiting(&self.keys, &mut pipe, connection, job);
                }
            }
        }
        Producer::add_delayed(&self.keys, &mut pipe, &delayed);
        let ids: Vec<&str> = acks.iter().map(|ack| ack.entry_id.as_str()).collect();
        pipe.cmd("XACK")
            .arg(&self.keys.stream)
            .arg(CONSUMER_GROUP)
            .arg(&ids)
            .ignore()
            .cmd("XDEL")
            .arg(&self.keys.stream)
            .arg(&ids)
            .ignore();
        pipe.query_async(&mut self.commands.clone()).await
    }

    /// Moves up to `limit` jobs due by `now_ms` to the stream; returns how
    /// many moved.
    pub async fn promote_due(&self, now_ms: i64, limit: usize) -> RedisResult<usize> {
        self.promote
            .key(&self.keys.delayed)
            .key(&self.keys.stream)
            .arg(now_ms)
            .arg(limit)
            .arg(JOB_FIELD)
            .invoke_async(&mut self.commands.clone())
            .await
    }

    /// Appends jobs to the stream in one round trip.
    pub async fn enqueue(&self, jobs: &[String]) -> RedisResult<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for job in jobs {
            Producer::add_ready(&self.keys, &mut pipe, job);
        }
        pipe.query_async(&mut self.commands.clone()).await
    }

    /// The keys of this queue.
    pub fn keys(&self) -> &QueueKeys {
        &self.keys
    }

    /// The queue's command connection (shared, multiplexed).
    pub fn commands(&self) -> ConnectionManager {
        self.commands.clone()
    }

    /// The queue's producer over this queue's connection.
    pub fn producer(&self) -> Producer {
        Producer::new(self.commands.clone(), self.keys.clone())
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
