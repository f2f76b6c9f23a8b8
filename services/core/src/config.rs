//! Configuration shared by all services.
//!
//! Precedence, lowest first: the defaults in this file, the TOML file named by
//! `SWITCHYARD_CONFIG` (if any), then `SWITCHYARD_*` environment variables.
//! Nested fields use a double underscore: `SWITCHYARD_DELIVERY__REQUEST_TIMEOUT=15s`.
//! Lists may be given as comma-separated strings
//! (`SWITCHYARD_ALLOWED_DESTINATION_NETWORKS=127.0.0.0/8,::1/128`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ipnet::IpNet;
use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};

/// The whole configuration; each service reads the parts it needs.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct Config {
    /// Postgres connection URL.
    pub database_url: String,
    /// Largest number of pooled Postgres connections per service.
    pub database_pool_size: usize,
    /// Redis connection URL.
    pub redis_url: String,
    /// Every Redis key starts with this prefix and a colon.
    pub redis_prefix: String,
    /// Redis Cluster and stream partitions (see `crate::redis_conn`).
    pub redis: crate::redis_conn::RedisConfig,
    /// Listen address of the registry service.
    pub registry_addr: SocketAddr,
    /// Listen address of the ingest service.
    pub ingest_addr: SocketAddr,
    /// Listen address of the router service.
    pub router_addr: SocketAddr,
    /// Listen address of the delivery service.
    pub delivery_addr: SocketAddr,
    /// How ingest reaches the registry.
    pub registry_endpoint: String,
    /// How ingest reaches the router.
    pub router_endpoint: String,
    /// How the router reaches the delivery service (circuit breakers,
    /// re-enqueueing a resumed connection).
    pub delivery_endpoint: String,
    /// Shared secret services use to call each other's internal RPCs. Required
    /// when services run as separate processes; the all-in-one process makes
    /// one up when it is unset.
    #[serde(skip_serializing)]
    pub internal_token: Option<SecretString>,
    /// Key of the HMAC-SHA256 under which API keys are stored, so a copy of
    /// the database alone cannot test guesses. Every process that creates
    /// or checks keys needs the same one; unset, keys are hashed with an
    /// empty HMAC key (a warning says so at start).
    #[serde(skip_serializing)]
    pub api_key_pepper: Option<SecretString>,
    /// The operator's token for `CreateWorkspace` and `ListWorkspaces`;
    /// unset, those RPCs are refused (`switchyard workspace create` still
    /// works).
    #[serde(skip_serializing)]
    pub operator_token: Option<SecretString>,
    /// Networks that outbound deliveries may reach even though they are not
    /// public (loopback, private, link-local, …). Empty: public only.
    #[serde(deserialize_with = "comma_separated")]
    pub allowed_destination_networks: Vec<IpNet>,
    /// Refuse `http://` destinations (at creation and at every attempt).
    pub https_only: bool,
    /// `text` (human readable) or `json`.
    pub log_format: LogFormat,
    pub ingest: IngestConfig,
    pub delivery: DeliveryConfig,
    pub telemetry: TelemetryConfig,
    /// Master keys encrypting connection credentials at rest.
    pub secrets: SecretsConfig,
    /// Optional TLS and mutual TLS (see `crate::tls`).
    pub tls: crate::tls::TlsConfig,
    /// Per-workspace quotas (see `crate::quotas`).
    pub quotas: crate::quotas::QuotaConfig,
    /// The web console (see `crate::console`).
    pub console: crate::console::ConsoleConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "postgres://postgres@127.0.0.1:5432/switchyard".to_string(),
            database_pool_size: 16,
            redis_url: "redis://127.0.0.1:6379".to_string(),
            redis_prefix: "switchyard".to_string(),
            redis: crate::redis_conn::RedisConfig::default(),
            registry_addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
            ingest_addr: SocketAddr::from(([127, 0, 0, 1], 50052)),
            router_addr: SocketAddr::from(([127, 0, 0, 1], 50053)),
            delivery_addr: SocketAddr::from(([127, 0, 0, 1], 50054)),
            registry_endpoint: "http://127.0.0.1:50051".to_string(),
            router_endpoint: "http://127.0.0.1:50053".to_string(),
            delivery_endpoint: "http://127.0.0.1:50054".to_string(),
            internal_token: None,
            api_key_pepper: None,
            operator_token: None,
            allowed_destination_networks: Vec::new(),
            https_only: false,
            log_format: LogFormat::Text,
            ingest: IngestConfig::default(),
            delivery: DeliveryConfig::default(),
            telemetry: TelemetryConfig::default(),
            secrets: SecretsConfig::default(),
            tls: crate::tls::TlsConfig::default(),
            quotas: crate::quotas::QuotaConfig::default(),
            console: crate::console::ConsoleConfig::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Traces and metrics.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct TelemetryConfig {
    /// `auto` exports spans when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; `on` and `off` force it.
    /// `OTEL_SDK_DISABLED=true` always turns it off.
    pub tracing: TracingMode,
    /// OTLP/gRPC endpoint for spans; overrides the `OTEL_*` variables.
    pub otlp_endpoint: Option<String>,
    /// Base URL of the Jaeger UI, for trace links in delivery history.
    pub jaeger_url: String,
    /// Where `GET /metrics` is served; unset: no metrics endpoint.
    pub metrics_addr: Option<SocketAddr>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            tracing: TracingMode::Auto,
            otlp_endpoint: None,
            jaeger_url: "http://127.0.0.1:16686".to_string(),
            metrics_addr: Some(SocketAddr::from(([127, 0, 0, 1], 9464))),
        }
    }
}

impl TelemetryConfig {
    pub fn tracing_on(&self) -> bool {
        let env_set = |name: &str| std::env::var(name).is_ok_and(|value| !value.trim().is_empty());
        if std::env::var("OTEL_SDK_DISABLED").is_ok_and(|value| value.eq_ignore_ascii_case("true"))
        {
            return false;
        }
        match self.tracing {
            TracingMode::On => true,
            TracingMode::Off => false,
            TracingMode::Auto => {
                self.otlp_endpoint.is_some()
                    || env_set("OTEL_EXPORTER_OTLP_ENDPOINT")
                    || env_set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            }
        }
    }

    /// The Jaeger page of one trace.
    pub fn trace_url(&self, trace_id: &str) -> String {
        format!("{}/trace/{trace_id}", self.jaeger_url.trim_end_matches('/'))
    }

    /// The trace id in a stored `traceparent` and its Jaeger page, as the
    /// APIs show them: empty strings without a trace (or, for the page,
    /// without a configured Jaeger URL).
    pub fn trace_link(&self, traceparent: Option<&str>) -> (String, String) {
        let Some(trace_id) = traceparent.and_then(crate::telemetry::propagation::trace_id_of)
        else {
            return (String::new(), String::new());
        };
        let url = if self.jaeger_url.trim().is_empty() {
            String::new()
        } else {
            self.trace_url(trace_id)
        };
        (trace_id.to_string(), url)
    }
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TracingMode {
    Auto,
    On,
    Off,
}

/// How long a master key is: AES-256 takes 32 bytes.
pub const MASTER_KEY_BYTES: usize = 32;

/// A new master key as `secrets.keys.<id>` holds it: the base64 of
/// [`MASTER_KEY_BYTES`] random bytes.
pub fn generate_master_key() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut key = [0u8; MASTER_KEY_BYTES];
    rand::rng().fill_bytes(&mut key);
    base64::engine::general_purpose::STANDARD.encode(key)
}

/// The master keys that encrypt connection credentials and HS256
/// verification secrets (see `switchyard_tenancy::secrets`). Required by the router and
/// the delivery service; a registry or ingest without them refuses HS256
/// machine tokens (and the registry new HS256 keys).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SecretsConfig {
    /// Id of the key that encrypts new values; may be left out when only
    /// one key is configured. Values sealed under the other keys still
    /// decrypt (`switchyard keys rotate` re-encrypts them).
    pub active_key: Option<String>,
    /// Keys by id (`SWITCHYARD_SECRETS__KEYS__<ID>`; ids are lowercase):
    /// the base64 of 32 random bytes each. Never serialized.
    #[serde(skip_serializing)]
    pub keys: BTreeMap<String, SecretString>,
}

/// Ingest: payload limits and the outbox forwarder.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct IngestConfig {
    /// Largest accepted `payload_json`, in bytes: the default of every
    /// workspace (`quotas.workspaces.<id>.max_payload_bytes` overrides it).
    pub max_payload_bytes: usize,
    /// How often the outbox forwarder looks for events not yet routed.
    #[serde(with = "humantime_serde")]
    pub outbox_poll_interval: Duration,
    /// How long after being stored an event may wait for its first routing
    /// before the forwarder takes it over.
    #[serde(with = "humantime_serde")]
    pub outbox_grace: Duration,
    /// Emit calls waiting for their commit at most; past it new calls are
    /// refused at once with `RESOURCE_EXHAUSTED` and a retry delay
    /// (backpressure) instead of queueing into timeouts.
    pub max_pending_commits: usize,
    /// Groups of committed events waiting for the router at most; past it
    /// new emits are refused the same way, so a slow router slows the
    /// front door instead of growing an unrouted backlog.
    pub max_pending_routes: usize,
    /// Group commits in flight at once (each holds a pooled connection);
    /// while they wait for their commit, the next batch gathers.
    pub commit_parallelism: usize,
    /// The retention loop over events, deliveries and attempts.
    pub retention: RetentionConfig,
}

/// History retention (run by ingest, which owns the events table): day
/// partitions created ahead and dropped once older than every workspace's
/// `retention_days`, shorter periods and payload periods applied in small
/// batches.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct RetentionConfig {
    /// Run the loop in this process (one replica at a time runs it, under
    /// a Postgres advisory lock).
    pub enabled: bool,
    /// How often the loop runs.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Day partitions kept ready ahead of today; an insert beyond them fails.
    pub days_ahead: u32,
    /// Rows deleted or payloads pruned per statement (each its own short
    /// transaction).
    pub batch_size: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(3600),
            days_ahead: 7,
            batch_size: 500,
        }
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_payload_bytes: 256 * 1024,
            outbox_poll_interval: Duration::from_millis(500),
            outbox_grace: Duration::from_secs(5),
            max_pending_commits: 4096,
            max_pending_routes: 4096,
            commit_parallelism: 4,
            retention: RetentionConfig::default(),
        }
    }
}

/// Delivery engine: schedule, timeouts and consumer sizing.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct DeliveryConfig {
    /// Delay before each attempt: the first entry is the first attempt (0s
    /// = at once); the length is the number of attempts before a delivery is
    /// dead. Each delay but a zero one gets ±20 % jitter.
    #[serde(
        deserialize_with = "duration_list",
        serialize_with = "serialize_duration_list"
    )]
    pub retry_schedule: Vec<Duration>,
    /// Time allowed to open a connection to a destination.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Time allowed for a whole request, connection included.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Jobs processed at once by one delivery process.
    pub max_in_flight: usize,
    /// Attempts in flight at once to one connection within one delivery
    /// process, so a slow destination never takes every slot of
    /// `max_in_flight` (a connection's `max_concurrency` applies across
    /// processes on top).
    pub max_in_flight_per_connection: usize,
    /// A job unacknowledged for this long is taken over by another consumer.
    /// Always longer than `request_timeout`.
    #[serde(with = "humantime_serde")]
    pub visibility_timeout: Duration,
    /// How often due retries are moved from the delay set into the stream.
    #[serde(with = "humantime_serde")]
    pub scheduler_interval: Duration,
    /// How long a stopping delivery process (SIGTERM) lets its in-flight
    /// attempts finish before it cuts them and hands their jobs back to the
    /// stream. Keep Kubernetes' `terminationGracePeriodSeconds` (and
    /// Compose's `stop_grace_period`) longer than this.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        Self {
            retry_schedule: vec![
                Duration::ZERO,
                Duration::from_secs(5),
                minutes(5),
                minutes(30),
                minutes(120),
                minutes(300),
                minutes(600),
                minutes(600),
            ],
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            max_in_flight: 1024,
            max_in_flight_per_connection: 256,
            visibility_timeout: Duration::from_secs(60),
            scheduler_interval: Duration::from_millis(200),
            shutdown_grace: Duration::from_secs(20),
        }
    }
}

impl Config {
    /// Loads defaults, then `SWITCHYARD_CONFIG` (a TOML file) if set, then
    /// the environment, and validates the result.
    pub fn load() -> anyhow::Result<Self> {
        let file = std::env::var("SWITCHYARD_CONFIG").ok();
        Self::load_from(file.as_deref().map(Path::new))
    }

    pub fn load_from(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                bail!("config file {} does not exist", file.display());
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment.merge(Env::prefixed("SWITCHYARD_").split("__"));
        let config: Config = figment.extract().context("invalid configuration")?;
        config.validate()?;
        Ok(config)
    }

    /// The internal token, which services calling each other's internal RPCs
    /// must share.
    pub fn require_internal_token(&self) -> anyhow::Result<&SecretString> {
        self.internal_token.as_ref().context(
            "internal_token (SWITCHYARD_INTERNAL_TOKEN) is required when services run as separate processes; \
             give every service the same value",
        )
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if !(1..=365).contains(&self.ingest.retention.days_ahead) {
            bail!("ingest.retention.days_ahead must be between 1 and 365");
        }
        if self.ingest.retention.batch_size == 0 || self.ingest.retention.interval.is_zero() {
            bail!("ingest.retention.batch_size and ingest.retention.interval must be above 0");
        }
        if self.delivery.retry_schedule.is_empty() {
            bail!("delivery.retry_schedule needs at least one entry");
        }
        if self.delivery.visibility_timeout <= self.delivery.request_timeout {
            bail!(
                "delivery.visibility_timeout ({:?}) must be longer than delivery.request_timeout ({:?}), or a slow request would be delivered twice",
                self.delivery.visibility_timeout,
                self.delivery.request_timeout
            );
        }
        if self.delivery.shutdown_grace.is_zero() {
            bail!(
                "delivery.shutdown_grace must be longer than zero, or every attempt in flight at a stop would be cut"
            );
        }
        if self.delivery.max_in_flight == 0 {
            bail!("delivery.max_in_flight must be at least 1");
        }
        if self.delivery.max_in_flight_per_connection == 0 {
            bail!("delivery.max_in_flight_per_connection must be at least 1");
        }
        if self.redis_prefix.is_empty() || self.redis_prefix.contains(char::is_whitespace) {
            bail!("redis_prefix must be non-empty and without spaces");
        }
        self.redis.validate()?;
        crate::redis_conn::Target::from_config(self)?;
        self.tls.validate()?;
        crate::quotas::Quotas::from_config(self)?;
        Ok(())
    }
}

fn comma_separated<'de, D>(deserializer: D) -> Result<Vec<IpNet>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Text(String),
        List(Vec<String>),
    }
    let items = match OneOrMany::deserialize(deserializer)? {
        OneOrMany::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        OneOrMany::List(list) => list,
    };
    items
        .iter()
        .map(|item| parse_network(item).map_err(serde::de::Error::custom))
        .collect()
}

/// Accepts a CIDR (`10.0.0.0/8`) or a bare address (`127.0.0.1` = `/32`).
fn parse_network(text: &str) -> Result<IpNet, String> {
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net);
    }
    text.parse::<std::net::IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("`{text}` is not a CIDR network like 127.0.0.0/8"))
}

fn duration_list<'de, D>(deserializer: D) -> Result<Vec<Duration>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Text(String),
        List(Vec<String>),
    }
    let items: Vec<String> = match OneOrMany::deserialize(deserializer)? {
        OneOrMany::Text(text) => text.split(',').map(|s| s.trim().to_string()).collect(),
        OneOrMany::List(list) => list,
    };
    items
        .iter()
        .map(|item| {
            humantime::parse_duration(item)
                .map_err(|e| serde::de::Error::custom(format!("`{item}`: {e}")))
        })
        .collect()
}

fn serialize_duration_list<S>(list: &[Duration], serializer: S) -> Result<S::Ok, S::Error>
where
    S: serde::Serializer,
{
    let texts: Vec<String> = list
        .iter()
        .map(|d| humantime::format_duration(*d).to_string())
        .collect();
    texts.serialize(serializer)
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return figment::Error
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let config = Config::default();
        config.validate().expect("defaults validate");
        assert_eq!(config.delivery.retry_schedule.len(), 8);
    }

    #[test]
    fn env_overrides_defaults_and_parses_lists() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SWITCHYARD_REDIS_PREFIX", "t1");
            jail.set_env(
                "SWITCHYARD_ALLOWED_DESTINATION_NETWORKS",
                "127.0.0.0/8, ::1",
            );
            jail.set_env("SWITCHYARD_DELIVERY__RETRY_SCHEDULE", "0s,100ms,2s");
            jail.set_env("SWITCHYARD_DELIVERY__REQUEST_TIMEOUT", "3s");
            let config = Config::load_from(None).expect("loads");
            assert_eq!(config.redis_prefix, "t1");
            assert_eq!(config.allowed_destination_networks.len(), 2);
            assert_eq!(
                config.delivery.retry_schedule,
                vec![
                    Duration::ZERO,
                    Duration::from_millis(100),
                    Duration::from_secs(2)
                ]
            );
            assert_eq!(config.delivery.request_timeout, Duration::from_secs(3));
            Ok(())
        });
    }

    #[test]
    fn file_is_read_and_env_wins() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "switchyard.toml",
                "redis_prefix = \"from-file\"\ndatabase_url = \"postgres://x@h/db\"\n",
            )?;
            jail.set_env("SWITCHYARD_REDIS_PREFIX", "from-env");
            let config = Config::load_from(Some(Path::new("switchyard.toml"))).expect("loads");
            assert_eq!(config.redis_prefix, "from-env");
            assert_eq!(config.database_url, "postgres://x@h/db");
            Ok(())
        });
    }

    #[test]
    fn redis_cluster_and_partitions_come_from_the_file_or_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "switchyard.toml",
                "redis_url = \"redis://10.0.0.1:7000,10.0.0.2:7000\"\n[redis]\ncluster = true\n",
            )?;
            jail.set_env("SWITCHYARD_REDIS__PARTITIONS", "3");
            let config = Config::load_from(Some(Path::new("switchyard.toml"))).expect("loads");
            assert!(config.redis.cluster);
            assert_eq!(config.redis.partitions, 3);
            assert_eq!(
                crate::redis_conn::Target::from_config(&config).expect("target"),
                crate::redis_conn::Target::Cluster(vec![
                    "redis://10.0.0.1:7000".into(),
                    "redis://10.0.0.2:7000".into()
                ])
            );
            jail.set_env("SWITCHYARD_REDIS__PARTITIONS", "0");
            let error = Config::load_from(Some(Path::new("switchyard.toml"))).expect_err("0");
            assert!(
                format!("{error:#}").contains("redis.partitions"),
                "{error:#}"
            );
            Ok(())
        });
    }

    #[test]
    fn master_keys_come_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SWITCHYARD_SECRETS__KEYS__K2026", "a2V5");
            jail.set_env("SWITCHYARD_SECRETS__ACTIVE_KEY", "k2026");
            let config = Config::load_from(None).expect("loads");
            assert_eq!(config.secrets.active_key.as_deref(), Some("k2026"));
            assert_eq!(
                config
                    .secrets
                    .keys
                    .get("k2026")
                    .map(|key| secrecy::ExposeSecret::expose_secret(key).to_string()),
                Some("a2V5".to_string())
            );
            Ok(())
        });
    }

    #[test]
    fn refuses_visibility_shorter_than_request_timeout() {
        let mut config = Config::default();
        config.delivery.visibility_timeout = Duration::from_secs(5);
        assert!(config.validate().is_err());
    }
}
