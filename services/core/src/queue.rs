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
//! - `<prefix>:{dlv}:keyrings` — a hash of the master-key fingerprints of
//!   every live router and delivery process (`crate::secrets::claim`), so
//!   a second deployment on the same prefix refuses to start.
//!
//! Jobs are hints: Postgres holds each delivery's truth, and the consumer
//! claims a delivery there before sending, so a duplicate job is harmless.

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
    /// The prefix itself, for the per-connection keys of
    /// [`crate::limits::ConnectionKeys`].
    pub prefix: String,
}

impl QueueKeys {
    pub fn new(prefix: &str) -> Self {
        Self {
            stream: format!("{prefix}:{{dlv}}:stream"),
            delayed: format!("{prefix}:{{dlv}}:delayed"),
            prefix: prefix.to_string(),
        }
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
}

impl DeliveryJob {
    pub const VERSION: u8 = 1;

    pub fn new(workspace_id: String, delivery_id: String) -> Self {
        Self {
            v: Self::VERSION,
            workspace_id,
            delivery_id,
            traceparent: None,
        }
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
