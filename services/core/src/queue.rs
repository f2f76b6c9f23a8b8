//! The Redis layout shared by the router (producer) and the delivery engine
//! (consumer). All keys live under the configured prefix and one hash tag,
//! so on Redis Cluster they share a slot and Lua scripts may touch them all.
//!
//! - `<prefix>:{dlv}:stream` — a stream of ready jobs, read by the consumer
//!   group [`CONSUMER_GROUP`]; each entry has one field, `job`, holding a
//!   JSON [`DeliveryJob`].
//! - `<prefix>:{dlv}:delayed` — a sorted set of jobs waiting for a retry,
//!   scored by due time (Unix milliseconds); a Lua script moves due ones to
//!   the stream atomically.
//! - `<prefix>:{dlv}:waiting:<connection_id>` — a list of the jobs of a
//!   connection that was at its in-flight cap when they were read, oldest
//!   first; each attempt to that connection that ends takes the next one
//!   (the delivery engine's `waiting` module). `<prefix>:{dlv}:waiting` is
//!   the set of connections whose list is not empty.
//! - `<prefix>:{dlv}:keyrings` — a hash of the master-key fingerprints of
//!   every live router and delivery process (`crate::secrets::claim`), so
//!   a second deployment on the same prefix refuses to start.
//!
//! Jobs are hints: Postgres holds each delivery's truth, and the consumer
//! claims a delivery there before sending, so a duplicate job is harmless.
//!
//! [`Producer`] is the one writer of jobs: the router's enqueue, replays,
//! requeues (resume, recovery), the engine's retries and the bench preload
//! all go through it, so the stream's entry layout is written in one place
//! ([`Producer::add_ready`], [`Producer::add_delayed`]; the engine's
//! promotion and waiting-list scripts are the exceptions, since they run
//! inside Redis).

use anyhow::Context;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

/// The consumer group every delivery replica joins.
pub const CONSUMER_GROUP: &str = "delivery";
/// The stream entry field holding the job.
pub const JOB_FIELD: &str = "job";

#[derive(Clone, Debug)]
pub struct QueueKeys {
    pub stream: String,
    pub delayed: String,
    /// The set of connections with jobs waiting for a free slot.
    pub waiting: String,
    /// The prefix itself, for the per-connection keys of
    /// [`crate::limits::ConnectionKeys`].
    pub prefix: String,
}

impl QueueKeys {
    pub fn new(prefix: &str) -> Self {
        Self {
            stream: format!("{prefix}:{{dlv}}:stream"),
            delayed: format!("{prefix}:{{dlv}}:delayed"),
            waiting: format!("{prefix}:{{dlv}}:waiting"),
            prefix: prefix.to_string(),
        }
    }

    /// The list of jobs waiting for a free slot of `connection`.
    pub fn waiting_list(&self, connection: &str) -> String {
        format!("{}:{connection}", self.waiting)
    }
}

/// One unit of work: attempt this delivery. Versioned so a rolling upgrade
/// can read jobs written by the previous release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryJob {
    pub v: u8,
    pub workspace_id: String,
    pub delivery_id: String,
    /// W3C `traceparent` of the span that enqueued the job, so every attempt
    /// (retries included) joins the event's trace. Absent when untraced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// The delivery's connection (`con_…`), when the producer knew it: the
    /// engine checks its in-process cap for that connection before
    /// claiming anything in Postgres, so a connection over its cap costs
    /// its waiting jobs no round trip. Absent in older jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
}

impl DeliveryJob {
    pub const VERSION: u8 = 1;

    pub fn new(workspace_id: String, delivery_id: String) -> Self {
        Self {
            v: Self::VERSION,
            workspace_id,
            delivery_id,
            traceparent: None,
            connection_id: None,
        }
    }

    /// The same job, naming its delivery's connection.
    pub fn with_connection(mut self, connection_id: Option<String>) -> Self {
        self.connection_id = connection_id;
        self
    }

    /// The same job, carrying `traceparent`.
    pub fn with_traceparent(mut self, traceparent: Option<String>) -> Self {
        self.traceparent = traceparent;
        self
    }

    pub fn to_json(&self) -> String {
        // Serialising two strings and an integer cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Jobs to write in one round trip: ready ones to the stream, delayed ones
/// to the sorted set at their due time (Unix milliseconds).
#[derive(Clone, Debug, Default)]
pub struct JobBatch {
    pub ready: Vec<DeliveryJob>,
    pub delayed: Vec<(DeliveryJob, i64)>,
}

impl JobBatch {
    pub fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.delayed.is_empty()
    }

    pub fn len(&self) -> usize {
        self.ready.len() + self.delayed.len()
    }
}

/// Most commands in one pipelined round trip, so a huge batch neither
/// builds one huge request nor blocks Redis for long.
const CHUNK: usize = 1000;

/// Writes jobs to the stream and the delayed set; cheap to clone.
#[derive(Clone)]
pub struct Producer {
    redis: ConnectionManager,
    keys: QueueKeys,
}

impl Producer {
    pub fn new(redis: ConnectionManager, keys: QueueKeys) -> Self {
        Self { redis, keys }
    }

    pub fn keys(&self) -> &QueueKeys {
        &self.keys
    }

    /// Appends ready jobs to the stream, in order, one pipelined round trip
    /// per thousand.
    pub async fn ready(&self, jobs: &[DeliveryJob]) -> redis::RedisResult<()> {
        for chunk in jobs.chunks(CHUNK) {
            let mut pipe = redis::pipe();
            for job in chunk {
                Self::add_ready(&self.keys, &mut pipe, &job.to_json());
            }
            pipe.query_async::<()>(&mut self.redis.clone()).await?;
        }
        Ok(())
    }

    /// Writes a batch: ready jobs first, then delayed ones, a round trip per
    /// thousand jobs.
    pub async fn send(&self, batch: &JobBatch) -> redis::RedisResult<()> {
        self.ready(&batch.ready).await?;
        for chunk in batch.delayed.chunks(CHUNK) {
            let mut pipe = redis::pipe();
            let jobs: Vec<(i64, String)> = chunk
                .iter()
                .map(|(job, due)| (*due, job.to_json()))
                .collect();
            let entries: Vec<(i64, &str)> =
                jobs.iter().map(|(due, job)| (*due, job.as_str())).collect();
            Self::add_delayed(&self.keys, &mut pipe, &entries);
            pipe.query_async::<()>(&mut self.redis.clone()).await?;
        }
        Ok(())
    }

    /// Adds the `XADD` of one serialized job to `pipe` (for callers that
    /// write jobs inside their own `MULTI`).
    pub fn add_ready(keys: &QueueKeys, pipe: &mut redis::Pipeline, job_json: &str) {
        pipe.cmd("XADD")
            .arg(&keys.stream)
            .arg("*")
            .arg(JOB_FIELD)
            .arg(job_json)
            .ignore();
    }

    /// Adds one `ZADD` of serialized jobs at their due times (Unix ms) to
    /// `pipe`; nothing when `entries` is empty.
    pub fn add_delayed(keys: &QueueKeys, pipe: &mut redis::Pipeline, entries: &[(i64, &str)]) {
        if entries.is_empty() {
            return;
        }
        pipe.cmd("ZADD").arg(&keys.delayed);
        for (due, job) in entries {
            pipe.arg(*due).arg(*job);
        }
        pipe.ignore();
    }

    /// Adds one job to the end of `connection`'s waiting list (and the
    /// connection to the set of those with waiting jobs) to `pipe`.
    pub fn add_waiting(
        keys: &QueueKeys,
        pipe: &mut redis::Pipeline,
        connection: &str,
        job_json: &str,
    ) {
        pipe.cmd("RPUSH")
            .arg(keys.waiting_list(connection))
            .arg(job_json)
            .ignore()
            .cmd("SADD")
            .arg(&keys.waiting)
            .arg(connection)
            .ignore();
    }
}

/// A Redis connection that reconnects by itself.
pub async fn connect(redis_url: &str) -> anyhow::Result<ConnectionManager> {
    let client =
        redis::Client::open(redis_url).with_context(|| format!("invalid Redis URL {redis_url}"))?;
    ConnectionManager::new(client)
        .await
        .with_context(|| format!("connecting to Redis at {redis_url}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_one_hash_tag() {
        let keys = QueueKeys::new("t1");
        assert_eq!(keys.stream, "t1:{dlv}:stream");
        assert_eq!(keys.delayed, "t1:{dlv}:delayed");
        assert_eq!(keys.waiting_list("con_1"), "t1:{dlv}:waiting:con_1");
    }

    #[test]
    fn jobs_round_trip() {
        let job = DeliveryJob::new("ws_1".into(), "dlv_1".into());
        assert_eq!(
            job.to_json(),
            r#"{"v":1,"workspace_id":"ws_1","delivery_id":"dlv_1"}"#
        );
        let back: DeliveryJob = serde_json::from_str(&job.to_json()).expect("parses");
        assert_eq!(back, job);
        let traced = job.with_traceparent(Some(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
        ));
        let back: DeliveryJob = serde_json::from_str(&traced.to_json()).expect("parses");
        assert_eq!(back, traced);
    }
}
