//! The Redis layout shared by the router (producer) and the delivery engine
//! (consumer). All keys live under the configured prefix, and every key a
//! script or `MULTI` touches together shares one hash tag, so on Redis
//! Cluster they share a slot.
//!
//! The stream is split into `redis.partitions` partitions (N, default 1).
//! Partition `i` has the tag `{dlv:i}`; with N = 1 the tag is `{dlv}`, the
//! layout of a single-stream deployment. Tags `{dlv:0}`, `{dlv:1}`,
//! `{dlv:2}` hash to slots 12447, 8382 and 4317: one per node of a 3-node
//! cluster with the default slot split.
//!
//! | key | tag | written by |
//! |---|---|---|
//! | `<prefix>:<tag>:stream` — ready jobs; consumer group [`CONSUMER_GROUP`]; one field, `job`, a JSON [`DeliveryJob`] | partition | [`Producer`] (router, replays, requeues, sweeper, bench preload); engine promotion and rescue scripts |
//! | `<prefix>:<tag>:delayed` — sorted set of jobs waiting for a retry, scored by due time (Unix ms) | partition | engine acknowledgement `MULTI`; read back by its promotion script |
//! | `<prefix>:<tag>:waiting:<con_…>` — a full connection's jobs, oldest first (engine `waiting`) | partition of the connection | engine acknowledgement `MULTI`, pop and rescue scripts |
//! | `<prefix>:<tag>:waiting` — set of connections whose list is not empty | partition | same |
//! | `<prefix>:{dlv}:keyrings` — hash of live processes' key fingerprints (`switchyard_tenancy::secrets::claim`) | `{dlv}` | router, delivery |
//! | `<prefix>:{con_…}:breaker`, `:slots`, `:rate`, `:reserved` (`switchyard_delivery::limits`) | the connection | engine gate scripts (which touch no stream key) |
//! | `<prefix>:{ws_…}:ingest_rate` (`switchyard_tenancy::quota`) | the workspace | ingest |
//!
//! [`QueueLayout`] places jobs: a job goes to the partition of its
//! connection ([`QueueLayout::partition_of_connection`], a stable hash of
//! the `con_…` id), so one connection's jobs, its waiting list and its
//! retries stay in one partition; a job that does not name its connection
//! (replays, requeues) goes by its delivery id. Any partition's consumer
//! may take any job: Postgres holds each delivery's truth, and the consumer
//! claims a delivery there before sending, so a duplicate job is harmless.
//!
//! [`Producer`] is the one writer of jobs: the router's enqueue, replays,
//! requeues (resume, recovery), the engine's retries and the bench preload
//! all go through it, so the stream's entry layout is written in one place
//! ([`Producer::add_ready`], [`Producer::add_delayed`]; the engine's
//! promotion and waiting-list scripts are the exceptions, since they run
//! inside Redis). It writes one pipeline per partition, never one across
//! partitions.

use serde::{Deserialize, Serialize};
use switchyard_core::redis_conn::RedisConn;

/// The consumer group every delivery replica joins.
pub const CONSUMER_GROUP: &str = "delivery";
/// The stream entry field holding the job.
pub const JOB_FIELD: &str = "job";

/// The keys of one partition.
#[derive(Clone, Debug)]
pub struct QueueKeys {
    /// This partition's index (0 with one partition).
    pub partition: usize,
    pub stream: String,
    pub delayed: String,
    /// The set of connections with jobs waiting for a free slot.
    pub waiting: String,
    /// The prefix itself, for the per-connection keys of
    /// `switchyard_delivery::limits::ConnectionKeys`.
    pub prefix: String,
}

impl QueueKeys {
    /// The keys of the single-partition layout.
    pub fn new(prefix: &str) -> Self {
        Self::partition(prefix, 0, 1)
    }

    /// The keys of partition `index` of `count`.
    pub fn partition(prefix: &str, index: usize, count: usize) -> Self {
        debug_assert!(index < count, "partition {index} of {count}");
        let tag = if count <= 1 {
            "{dlv}".to_string()
        } else {
            format!("{{dlv:{index}}}")
        };
        Self {
            partition: index,
            stream: format!("{prefix}:{tag}:stream"),
            delayed: format!("{prefix}:{tag}:delayed"),
            waiting: format!("{prefix}:{tag}:waiting"),
            prefix: prefix.to_string(),
        }
    }

    /// The list of jobs waiting for a free slot of `connection`.
    pub fn waiting_list(&self, connection: &str) -> String {
        format!("{}:{connection}", self.waiting)
    }
}

/// Every partition's keys, and which partition a job belongs to. Cheap to
/// clone.
#[derive(Clone, Debug)]
pub struct QueueLayout {
    partitions: std::sync::Arc<[QueueKeys]>,
}

impl QueueLayout {
    /// `count` partitions under `prefix` (at least one).
    pub fn new(prefix: &str, count: usize) -> Self {
        let count = count.max(1);
        Self {
            partitions: (0..count)
                .map(|index| QueueKeys::partition(prefix, index, count))
                .collect(),
        }
    }

    /// The layout `config` names (`redis_prefix`, `redis.partitions`).
    pub fn from_config(config: &switchyard_core::config::Config) -> Self {
        Self::new(&config.redis_prefix, usize::from(config.redis.partitions))
    }

    pub fn partitions(&self) -> &[QueueKeys] {
        &self.partitions
    }

    pub fn len(&self) -> usize {
        self.partitions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.partitions.is_empty()
    }

    /// The keys of partition `index`.
    pub fn keys(&self, index: usize) -> &QueueKeys {
        &self.partitions[index % self.partitions.len()]
    }

    /// The partition of `connection` (a `con_…` id): its waiting list and,
    /// normally, its jobs live there.
    pub fn partition_of_connection(&self, connection: &str) -> usize {
        self.bucket(connection)
    }

    /// The partition `job` is written to: its connection's, or by delivery
    /// id when the job does not name its connection.
    pub fn partition_of(&self, job: &DeliveryJob) -> usize {
        match &job.connection_id {
            Some(connection) => self.bucket(connection),
            None => self.bucket(&job.delivery_id),
        }
    }

    /// The partition of a serialized job (partition 0 when it does not parse:
    /// the consumer drops malformed jobs wherever they are).
    pub fn partition_of_json(&self, job_json: &str) -> usize {
        serde_json::from_str::<DeliveryJob>(job_json)
            .map(|job| self.partition_of(&job))
            .unwrap_or(0)
    }

    fn bucket(&self, id: &str) -> usize {
        let count = self.partitions.len() as u64;
        if count <= 1 {
            return 0;
        }
        // FNV-1a: stable across processes, releases and platforms, unlike
        // the standard library's seeded hasher.
        let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
        (hash % count) as usize
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

/// Writes jobs to the streams and delayed sets of their partitions; cheap
/// to clone.
#[derive(Clone)]
pub struct Producer {
    redis: RedisConn,
    layout: QueueLayout,
}

impl Producer {
    pub fn new(redis: RedisConn, layout: QueueLayout) -> Self {
        Self { redis, layout }
    }

    pub fn layout(&self) -> &QueueLayout {
        &self.layout
    }

    /// Appends ready jobs to their partitions' streams, in order within a
    /// partition, one pipelined round trip per partition and thousand.
    pub async fn ready(&self, jobs: &[DeliveryJob]) -> redis::RedisResult<()> {
        let jsons: Vec<String> = jobs.iter().map(DeliveryJob::to_json).collect();
        let mut by_partition: Vec<Vec<&str>> = vec![Vec::new(); self.layout.len()];
        for (job, json) in jobs.iter().zip(&jsons) {
            by_partition[self.layout.partition_of(job)].push(json);
        }
        self.ready_json(by_partition).await
    }

    /// Appends serialized jobs to their partitions' streams (as
    /// [`Self::ready`]).
    pub async fn ready_json(&self, by_partition: Vec<Vec<&str>>) -> redis::RedisResult<()> {
        for (index, jobs) in by_partition.iter().enumerate() {
            let keys = self.layout.keys(index);
            for chunk in jobs.chunks(CHUNK) {
                let mut pipe = redis::pipe();
                for job in chunk {
                    Self::add_ready(keys, &mut pipe, job);
                }
                pipe.query_async::<()>(&mut self.redis.clone()).await?;
            }
        }
        Ok(())
    }

    /// Groups serialized jobs by partition, for [`Self::ready_json`].
    pub fn split_json<'a>(&self, jobs: &'a [String]) -> Vec<Vec<&'a str>> {
        let mut by_partition: Vec<Vec<&str>> = vec![Vec::new(); self.layout.len()];
        for job in jobs {
            by_partition[self.layout.partition_of_json(job)].push(job);
        }
        by_partition
    }

    /// Writes a batch: ready jobs first, then delayed ones, a round trip per
    /// partition and thousand jobs.
    pub async fn send(&self, batch: &JobBatch) -> redis::RedisResult<()> {
        self.ready(&batch.ready).await?;
        let mut by_partition: Vec<Vec<(i64, String)>> = vec![Vec::new(); self.layout.len()];
        for (job, due) in &batch.delayed {
            by_partition[self.layout.partition_of(job)].push((*due, job.to_json()));
        }
        for (index, jobs) in by_partition.iter().enumerate() {
            for chunk in jobs.chunks(CHUNK) {
                let mut pipe = redis::pipe();
                let entries: Vec<(i64, &str)> = chunk
                    .iter()
                    .map(|(due, job)| (*due, job.as_str()))
                    .collect();
                Self::add_delayed(self.layout.keys(index), &mut pipe, &entries);
                pipe.query_async::<()>(&mut self.redis.clone()).await?;
            }
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
    fn partitions_have_their_own_tag() {
        let layout = QueueLayout::new("t1", 3);
        let streams: Vec<&str> = layout
            .partitions()
            .iter()
            .map(|keys| keys.stream.as_str())
            .collect();
        assert_eq!(
            streams,
            [
                "t1:{dlv:0}:stream",
                "t1:{dlv:1}:stream",
                "t1:{dlv:2}:stream"
            ]
        );
        assert_eq!(layout.keys(1).delayed, "t1:{dlv:1}:delayed");
        assert_eq!(
            layout.keys(2).waiting_list("con_1"),
            "t1:{dlv:2}:waiting:con_1"
        );
        assert_eq!(QueueLayout::new("t1", 1).keys(0).stream, "t1:{dlv}:stream");
    }

    #[test]
    fn a_connections_jobs_stay_in_one_partition() {
        let layout = QueueLayout::new("t1", 3);
        let connection = "con_0190a1b2c3d4e5f6a7b8c9d0e1f2a3b4";
        let home = layout.partition_of_connection(connection);
        for delivery in 0..50 {
            let job = DeliveryJob::new("ws_1".into(), format!("dlv_{delivery}"))
                .with_connection(Some(connection.into()));
            assert_eq!(layout.partition_of(&job), home);
            assert_eq!(layout.partition_of_json(&job.to_json()), home);
        }
        // Jobs without a connection spread by delivery id over every partition.
        let used: std::collections::BTreeSet<usize> = (0..60)
            .map(|delivery| {
                layout.partition_of(&DeliveryJob::new("ws_1".into(), format!("dlv_{delivery}")))
            })
            .collect();
        assert_eq!(used.len(), 3);
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
