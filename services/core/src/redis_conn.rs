//! The one Redis handle every service uses, for a single Redis or a Redis
//! Cluster alike.
//!
//! - [`RedisConfig`] (`redis.cluster`, `redis.partitions`) and the URL in
//!   `redis_url` decide the [`Target`]: a `redis+cluster://host:port,…`
//!   URL, or `redis.cluster = true` with a plain URL listing one or more
//!   seed nodes (`redis://a:7000,b:7001`), selects the cluster client.
//! - [`RedisConn`] wraps either a [`ConnectionManager`] (single Redis,
//!   reconnects by itself) or a [`ClusterConnection`] (routes each command
//!   to the node owning its key's slot, follows `MOVED`/`ASK`, refreshes the
//!   slot map). It implements [`ConnectionLike`], so `redis::cmd`,
//!   [`redis::Script`] and pipelines run on it unchanged.
//! - On a cluster, every command, script and `MULTI` must touch keys of one
//!   slot: the key layout (`switchyard_delivery_model::queue`, `::limits`) puts hash tags
//!   in every key so they do; a pipeline that would not is refused by the
//!   client with a `CROSSSLOT` error before anything is sent.
//!
//! A blocking read (`XREADGROUP … BLOCK`) stalls whatever is queued behind
//! it on a multiplexed connection, so readers open their own handle with
//! [`Target::connect_with_timeout`].

use std::time::Duration;

use anyhow::{Context, bail};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};
use serde::{Deserialize, Serialize};

/// The URL scheme that selects the cluster client on its own.
pub const CLUSTER_SCHEME: &str = "redis+cluster://";

/// How Switchyard uses Redis beyond its URL (`[redis]` in the config file,
/// `SWITCHYARD_REDIS__…` in the environment).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct RedisConfig {
    /// Use the Redis Cluster client (also implied by a `redis+cluster://`
    /// URL). The URL then lists seed nodes, comma-separated.
    pub cluster: bool,
    /// Partitions of the delivery stream: jobs are spread over this many
    /// streams by connection id, each with its own hash tag (so on a
    /// cluster they land on different nodes). 1 keeps the single-stream
    /// layout. Changing it strands the jobs of the old layout until the
    /// sweeper re-enqueues them from Postgres.
    pub partitions: u16,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            cluster: false,
            partitions: 1,
        }
    }
}

impl RedisConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.partitions == 0 || self.partitions > MAX_PARTITIONS {
            bail!(
                "redis.partitions must be between 1 and {MAX_PARTITIONS}, got {}",
                self.partitions
            );
        }
        Ok(())
    }
}

/// More partitions than this only add readers without spreading load.
pub const MAX_PARTITIONS: u16 = 256;

/// Where Redis is: one server, or the seed nodes of a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Single(String),
    Cluster(Vec<String>),
}

impl Target {
    /// Reads `url` (with `cluster` from `redis.cluster`).
    pub fn parse(url: &str, cluster: bool) -> anyhow::Result<Self> {
        let url = url.trim();
        let (nodes, cluster) = match url.strip_prefix(CLUSTER_SCHEME) {
            Some(rest) => (rest, true),
            None if cluster => (
                url.strip_prefix("redis://").with_context(|| {
                    format!("a cluster URL must start with redis:// or {CLUSTER_SCHEME}, got {url}")
                })?,
                true,
            ),
            None => return Ok(Self::Single(url.to_string())),
        };
        let nodes: Vec<String> = nodes
            .trim_end_matches('/')
            .split(',')
            .map(str::trim)
            .filter(|node| !node.is_empty())
            .map(|node| format!("redis://{node}"))
            .collect();
        if nodes.is_empty() || !cluster {
            bail!("the Redis cluster URL {url} names no node");
        }
        Ok(Self::Cluster(nodes))
    }

    /// The target of `config`.
    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<Self> {
        Self::parse(&config.redis_url, config.redis.cluster)
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// A shared, multiplexed handle with the client's default timeouts.
    pub async fn connect(&self) -> anyhow::Result<RedisConn> {
        self.open(None).await
    }

    /// A handle whose responses may take up to `response_timeout` (for
    /// blocking reads, which need longer than their block time).
    pub async fn connect_with_timeout(
        &self,
        response_timeout: Duration,
    ) -> anyhow::Result<RedisConn> {
        self.open(Some(response_timeout)).await
    }

    async fn open(&self, response_timeout: Option<Duration>) -> anyhow::Result<RedisConn> {
        match self {
            Self::Single(url) => {
                let client = redis::Client::open(url.as_str())
                    .with_context(|| format!("invalid Redis URL {url}"))?;
                let mut config = ConnectionManagerConfig::new();
                if let Some(timeout) = response_timeout {
                    config = config.set_response_timeout(Some(timeout));
                }
                let manager = ConnectionManager::new_with_config(client, config)
                    .await
                    .with_context(|| format!("connecting to Redis at {url}"))?;
                Ok(RedisConn::Single(manager))
            }
            Self::Cluster(nodes) => {
                let mut builder = ClusterClientBuilder::new(nodes.iter().map(String::as_str));
                if let Some(timeout) = response_timeout {
                    builder = builder.response_timeout(timeout);
                }
                let client = builder
                    .build()
                    .with_context(|| format!("invalid Redis Cluster nodes {nodes:?}"))?;
                let connection = client
                    .get_async_connection()
                    .await
                    .with_context(|| format!("connecting to the Redis Cluster at {nodes:?}"))?;
                Ok(RedisConn::Cluster(connection))
            }
        }
    }
}

/// A Redis connection that reconnects by itself; cheap to clone (clones
/// share the connection).
#[derive(Clone)]
pub enum RedisConn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl RedisConn {
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(connection) => connection.req_packed_command(cmd),
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}

/// Connects to the Redis of `config`.
pub async fn connect(config: &crate::config::Config) -> anyhow::Result<RedisConn> {
    Target::from_config(config)?.connect().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_urls_are_single() {
        assert_eq!(
            Target::parse("redis://127.0.0.1:6379", false).expect("parses"),
            Target::Single("redis://127.0.0.1:6379".into())
        );
    }

    #[test]
    fn the_cluster_scheme_or_flag_selects_the_cluster() {
        let nodes = vec!["redis://a:7000".to_string(), "redis://b:7001".to_string()];
        assert_eq!(
            Target::parse("redis+cluster://a:7000,b:7001/", false).expect("parses"),
            Target::Cluster(nodes.clone())
        );
        assert_eq!(
            Target::parse("redis://a:7000, b:7001", true).expect("parses"),
            Target::Cluster(nodes)
        );
    }

    #[test]
    fn empty_or_foreign_cluster_urls_are_refused() {
        assert!(Target::parse("redis+cluster://", false).is_err());
        assert!(Target::parse("rediss+x://a:1", true).is_err());
    }

    #[test]
    fn partitions_are_bounded() {
        let mut config = RedisConfig::default();
        assert!(config.validate().is_ok());
        config.partitions = 0;
        assert!(config.validate().is_err());
    }
}
