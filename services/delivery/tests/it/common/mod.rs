//! Test harness: a fresh database and Redis prefix, a workspace, rows
//! inserted the way the router would, and the real delivery service on
//! 127.0.0.1:0.
#![allow(dead_code)]

pub mod brokers;
pub mod controls;
pub mod fake_api;
pub mod receiver;
pub mod saas;

use std::net::SocketAddr;
use std::time::Duration;

use deadpool_postgres::Pool;
use switchyard_core::config::Config;
use switchyard_core::ids::{ConnectionId, DeliveryId, EventId, RuleId, WorkspaceId};
use switchyard_core::shutdown::{self, Trigger};
use switchyard_delivery::DeliveryApp;
use switchyard_delivery_model::queue::{CONSUMER_GROUP, DeliveryJob, JOB_FIELD, QueueKeys};
use switchyard_proto::v1::delivery_service_client::DeliveryServiceClient;
use switchyard_tenancy::auth::{bearer_metadata, create_workspace};
use switchyard_testkit::{TestDatabase, TestRedis};
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// How long tests wait for an outcome before failing.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub struct TestEnv {
    pub database: TestDatabase,
    pub redis: TestRedis,
    pub pool: Pool,
    pub workspace: WorkspaceId,
    pub api_key: String,
    pub keys: QueueKeys,
    /// The deployment's master key: every replica a test starts shares it,
    /// as a deployment's do (one with other keys refuses to start).
    pub secrets: switchyard_core::config::SecretsConfig,
}

/// A delivery and the rows around it.
#[derive(Clone, Debug)]
pub struct Seeded {
    pub delivery: DeliveryId,
    pub event: EventId,
    pub connection: ConnectionId,
    pub secret: String,
    pub payload: serde_json::Value,
}

/// A delivery's row, as the tests look at it.
#[derive(Clone, Debug)]
pub struct DeliveryState {
    pub status: String,
    pub attempt_count: i32,
    pub last_error: String,
}

#[derive(Clone, Debug)]
pub struct AttemptState {
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub error: String,
    pub url: String,
    pub response_snippet: String,
}

pub struct RunningApp {
    pub addr: SocketAddr,
    trigger: Trigger,
    handle: JoinHandle<anyhow::Result<()>>,
}

impl RunningApp {
    /// Trips shutdown and waits for `run` to return.
    pub async fn stop(self) {
        self.trigger.trip();
        let result = tokio::time::timeout(PATIENCE, self.handle)
            .await
            .expect("the service stops in time")
            .expect("the service task did not panic");
        result.expect("the service ran without error");
    }

    pub async fn client(&self) -> DeliveryServiceClient<Channel> {
        DeliveryServiceClient::connect(format!("http://{}", self.addr))
            .await
            .expect("connect to the delivery service")
    }
}

/// `request` with `authorization: Bearer <key>`.
pub fn authorized<T>(key: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", bearer_metadata(key).expect("ascii key"));
    request
}

impl TestEnv {
    pub async fn new() -> Self {
        // `RUST_LOG=debug cargo test …` shows the service's logs.
        if std::env::var_os("RUST_LOG").is_some() {
            switchyard_core::telemetry::init_logging(switchyard_core::config::LogFormat::Text);
        }
        let database = TestDatabase::create().await.expect("test database");
        let redis = TestRedis::new();
        let pool = switchyard_core::db::pool(&database.url, 4).expect("pool");
        let (workspace, api_key) = create_workspace(
            &pool,
            &switchyard_tenancy::auth::KeyHasher::new(None),
            "acme",
        )
        .await
        .expect("workspace");
        let keys = QueueKeys::new(&redis.prefix);
        Self {
            database,
            redis,
            pool,
            workspace,
            api_key,
            keys,
            secrets: switchyard_testkit::secrets_config(),
        }
    }

    /// Short schedule and timeouts; loopback destinations allowed.
    pub fn config(&self) -> Config {
        let mut config = Config {
            database_url: self.database.url.clone(),
            database_pool_size: 8,
            redis_url: self.redis.url.clone(),
            redis_prefix: self.redis.prefix.clone(),
            allowed_destination_networks: vec!["127.0.0.1/32".parse().expect("network")],
            secrets: self.secrets.clone(),
            ..Config::default()
        };
        config.delivery.retry_schedule = vec![
            Duration::ZERO,
            Duration::from_millis(200),
            Duration::from_millis(200),
        ];
        config.delivery.connect_timeout = Duration::from_secs(1);
        config.delivery.request_timeout = Duration::from_secs(2);
        config.delivery.visibility_timeout = Duration::from_secs(5);
        config.delivery.scheduler_interval = Duration::from_millis(50);
        config
    }

    pub async fn start(&self, config: &Config) -> RunningApp {
        let (listener, addr) = switchyard_core::grpc::bind("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("bind");
        let app = DeliveryApp::build(config)
            .await
            .expect("build the delivery service");
        let (trigger, signal) = shutdown::channel();
        let handle = tokio::spawn(app.run(listener, signal));
        RunningApp {
            addr,
            trigger,
            handle,
        }
    }

    pub async fn insert_connection(
        &self,
        url: &str,
        headers: serde_json::Value,
    ) -> (ConnectionId, String) {
        let id = ConnectionId::generate();
        let secret = switchyard_delivery_model::signature::generate_secret();
        let config = serde_json::json!({ "url": url, "headers": headers });
        self.execute(
            "INSERT INTO connections (id, workspace_id, name, kind, config, signing_secret) \
             VALUES ($1, $2, 'hook', 'webhook', $3, $4)",
            &[&id.as_uuid(), &self.workspace.as_uuid(), &config, &secret],
        )
        .await;
        (id, secret)
    }

    pub async fn insert_event(&self, payload: &serde_json::Value) -> EventId {
        let id = EventId::generate();
        self.execute(
            "INSERT INTO events (id, workspace_id, event_type, schema_version, payload) \
             VALUES ($1, $2, 'lead.created', 1, $3)",
            &[&id.as_uuid(), &self.workspace.as_uuid(), payload],
        )
        .await;
        id
    }

    /// A rule from the event type to `connection`, and a pending delivery.
    pub async fn insert_delivery(&self, event: EventId, connection: ConnectionId) -> DeliveryId {
        let rule = RuleId::generate();
        self.execute(
            "INSERT INTO rules (id, workspace_id, event_type, connection_id) \
             VALUES ($1, $2, 'lead.created', $3)",
            &[
                &rule.as_uuid(),
                &self.workspace.as_uuid(),
                &connection.as_uuid(),
            ],
        )
        .await;
        let delivery = DeliveryId::generate();
        self.execute(
            "INSERT INTO deliveries (id, workspace_id, event_id, rule_id, connection_id, status, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, 'pending', now())",
            &[
                &delivery.as_uuid(),
                &self.workspace.as_uuid(),
                &event.as_uuid(),
                &rule.as_uuid(),
                &connection.as_uuid(),
            ],
        )
        .await;
        delivery
    }

    /// Event, connection, rule and pending delivery to `url` (no job yet).
    pub async fn seed(&self, url: &str) -> Seeded {
        let payload = serde_json::json!({ "email": "ada@example.com", "lead": { "id": 42, "tags": ["a", "b"] } });
        let (connection, secret) = self.insert_connection(url, serde_json::json!({})).await;
        let event = self.insert_event(&payload).await;
        let delivery = self.insert_delivery(event, connection).await;
        Seeded {
            delivery,
            event,
            connection,
            secret,
            payload,
        }
    }

    /// XADDs the job the router would write for `delivery`.
    pub async fn enqueue(&self, delivery: DeliveryId) {
        let job = DeliveryJob::new(self.workspace.to_string(), delivery.to_string()).to_json();
        self.enqueue_raw(&job).await;
    }

    /// Enqueues `delivery` and has `consumer`, a member of the engine's
    /// consumer group that then dies, read it without acknowledging it.
    pub async fn read_and_abandon(&self, delivery: DeliveryId, consumer: &str) {
        let mut redis = self.redis_connection().await;
        let _: () = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.keys.stream)
            .arg(CONSUMER_GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut redis)
            .await
            .expect("create group");
        self.enqueue(delivery).await;
        let _: redis::Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(CONSUMER_GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(1)
            .arg("STREAMS")
            .arg(&self.keys.stream)
            .arg(">")
            .query_async(&mut redis)
            .await
            .expect("read without acknowledging");
    }

    /// XADDs the job the router writes for `delivery` (it names the
    /// delivery's connection).
    pub async fn enqueue_for(&self, connection: ConnectionId, delivery: DeliveryId) {
        let job = DeliveryJob::new(self.workspace.to_string(), delivery.to_string())
            .with_connection(Some(connection.to_string()))
            .to_json();
        self.enqueue_raw(&job).await;
    }

    pub async fn enqueue_raw(&self, job: &str) {
        let _: String = redis::cmd("XADD")
            .arg(&self.keys.stream)
            .arg("*")
            .arg(JOB_FIELD)
            .arg(job)
            .query_async(&mut self.redis_connection().await)
            .await
            .expect("xadd");
    }

    pub async fn redis_connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.redis.url.as_str())
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("redis connection")
    }

    /// Entries still in the stream plus entries read but not acknowledged.
    pub async fn unfinished_jobs(&self) -> (usize, usize) {
        let mut redis = self.redis_connection().await;
        let length: usize = redis::cmd("XLEN")
            .arg(&self.keys.stream)
            .query_async(&mut redis)
            .await
            .expect("xlen");
        let pending: redis::Value = redis::cmd("XPENDING")
            .arg(&self.keys.stream)
            .arg(CONSUMER_GROUP)
            .query_async(&mut redis)
            .await
            .unwrap_or(redis::Value::Nil);
        let pending_count = match pending {
            redis::Value::Array(items) => match items.first() {
                Some(redis::Value::Int(count)) => usize::try_from(*count).unwrap_or(0),
                _ => 0,
            },
            _ => 0,
        };
        (length, pending_count)
    }

    /// Waits until the stream is empty and nothing is pending.
    pub async fn wait_for_drained_stream(&self) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let unfinished = self.unfinished_jobs().await;
            if unfinished == (0, 0) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "stream not drained: {unfinished:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn delivery_state(&self, delivery: DeliveryId) -> DeliveryState {
        let client = self.pool.get().await.expect("client");
        let row = client
            .query_one(
                "SELECT status, attempt_count, last_error FROM deliveries WHERE id = $1",
                &[&delivery.as_uuid()],
            )
            .await
            .expect("delivery row");
        DeliveryState {
            status: row.get(0),
            attempt_count: row.get(1),
            last_error: row.get(2),
        }
    }

    /// Polls until the delivery has `status`; panics with its last state
    /// after [`PATIENCE`].
    pub async fn wait_for_status(&self, delivery: DeliveryId, status: &str) -> DeliveryState {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let state = self.delivery_state(delivery).await;
            if state.status == status {
                return state;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "delivery never became {status}; last state {state:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn attempts(&self, delivery: DeliveryId) -> Vec<AttemptState> {
        let client = self.pool.get().await.expect("client");
        let rows = client
            .query(
                "SELECT attempt, status_code, error, target, response_snippet FROM delivery_attempts \
                 WHERE delivery_id = $1 ORDER BY attempt",
                &[&delivery.as_uuid()],
            )
            .await
            .expect("attempt rows");
        rows.iter()
            .map(|row| AttemptState {
                attempt: row.get(0),
                status_code: row.get(1),
                error: row.get(2),
                url: row.get(3),
                response_snippet: row.get(4),
            })
            .collect()
    }

    pub async fn execute(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) {
        let client = self.pool.get().await.expect("client");
        client.execute(sql, params).await.expect(sql);
    }
}
