//! The end-to-end harness: the four real services on ephemeral ports in this
//! process (each its own gRPC server, as in production), a fresh Postgres
//! database and Redis key prefix per test, a workspace with its API key, and
//! helpers to wire a local webhook receiver and wait for outcomes;
//! [`tokens`] signs machine tokens.

pub mod otlp;
pub mod tokens;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use switchyard::receiver::{Behaviour, Receiver};
use switchyard::stack::{ServiceKind, Stack};
use switchyard_client::{Client, proto};
use switchyard_core::config::Config;
use switchyard_core::ids::WorkspaceId;
use switchyard_testkit::{TestDatabase, TestRedis};

pub use switchyard::stack::ServiceKind as Service;

pub const LEAD_CREATED: &str = "lead.created";

/// The schema most tests register for `lead.created`.
pub fn lead_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "required": ["id", "email"],
        "properties": {
            "id": {"type": "string"},
            "email": {"type": "string", "format": "email"},
            "amount": {"type": "number", "minimum": 0},
            "source": {"type": "string"}
        }
    })
}

/// A configuration for one test: its own database and prefix, every port
/// ephemeral, loopback destinations allowed, a fast retry schedule and a
/// master key of its own.
pub fn test_config(database: &TestDatabase, redis: &TestRedis) -> Config {
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut config = Config {
        database_url: database.url.clone(),
        database_pool_size: 8,
        redis_url: redis.url.clone(),
        redis_prefix: redis.prefix.clone(),
        registry_addr: any_port,
        ingest_addr: any_port,
        router_addr: any_port,
        delivery_addr: any_port,
        allowed_destination_networks: vec!["127.0.0.1/32".parse().expect("network")],
        secrets: switchyard_testkit::secrets_config(),
        ..Config::default()
    };
    config.delivery.retry_schedule = vec![
        Duration::ZERO,
        Duration::from_millis(150),
        Duration::from_millis(150),
    ];
    config.delivery.request_timeout = Duration::from_secs(3);
    config.delivery.visibility_timeout = Duration::from_secs(6);
    config.delivery.scheduler_interval = Duration::from_millis(50);
    config.ingest.outbox_poll_interval = Duration::from_millis(100);
    config.ingest.outbox_grace = Duration::from_millis(300);
    config.telemetry.metrics_addr = Some(any_port);
    config.api_key_pepper = Some(secrecy::SecretString::from("test pepper, not secret"));
    // `SWITCHYARD_TEST_REDIS_PARTITIONS=3` runs the suite with the stream
    // sharded (on whatever Redis the tests use).
    if let Some(partitions) = std::env::var("SWITCHYARD_TEST_REDIS_PARTITIONS")
        .ok()
        .and_then(|value| value.parse().ok())
    {
        config.redis.partitions = partitions;
    }
    config.operator_token = Some(secrecy::SecretString::from(OPERATOR_TOKEN));
    config
}

/// The operator token of test stacks.
pub const OPERATOR_TOKEN: &str = "sy_operator_test_token";

pub struct TestStack {
    pub stack: Stack,
    pub client: Client,
    pub workspace: WorkspaceId,
    pub api_key: String,
    pub pool: deadpool_postgres::Pool,
    // Dropped last: they remove the database and the Redis keys.
    _redis: TestRedis,
    _database: TestDatabase,
}

impl TestStack {
    /// All four services.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(&ServiceKind::ALL, |_| {}).await
    }

    /// The given services (the others can be started later), after letting
    /// `adjust` change the configuration.
    pub async fn start_with(
        services: &[ServiceKind],
        adjust: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Self> {
        Self::start_for_workspace(services, |config, _| adjust(config)).await
    }

    /// Like [`TestStack::start_with`], with the test workspace created
    /// first, so `adjust` can configure it (e.g. a quota override).
    pub async fn start_for_workspace(
        services: &[ServiceKind],
        adjust: impl FnOnce(&mut Config, WorkspaceId),
    ) -> anyhow::Result<Self> {
        let database = TestDatabase::create().await?;
        let redis = TestRedis::new();
        let pool = switchyard_core::db::pool(&database.url, 4)?;
        let mut config = test_config(&database, &redis);
        let hasher = switchyard_tenancy::auth::KeyHasher::new(config.api_key_pepper.as_ref());
        let (workspace, api_key) =
            switchyard_tenancy::auth::create_workspace(&pool, &hasher, "test")
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
        adjust(&mut config, workspace);
        let stack = Stack::start(config, services).await?;
        let client = stack.client(&api_key)?;
        Ok(Self {
            stack,
            client,
            workspace,
            api_key,
            pool,
            _redis: redis,
            _database: database,
        })
    }

    /// Hashes keys as the stack's services do.
    pub fn hasher(&self) -> switchyard_tenancy::auth::KeyHasher {
        switchyard_tenancy::auth::KeyHasher::new(self.stack.config().api_key_pepper.as_ref())
    }

    /// A client of the same stack with another key (or garbage).
    pub fn client_with_key(&self, key: &str) -> anyhow::Result<Client> {
        self.stack.client(key)
    }

    /// A second workspace and a client for it.
    pub async fn other_workspace(&self, slug: &str) -> anyhow::Result<Client> {
        let (_, key) = switchyard_tenancy::auth::create_workspace(&self.pool, &self.hasher(), slug)
            .await
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        self.client_with_key(&key)
    }

    pub async fn register_lead_schema(&self) -> anyhow::Result<()> {
        self.client
            .register_schema(LEAD_CREATED, &lead_schema(), "a lead")
            .await?;
        Ok(())
    }

    /// Starts a receiver, points a webhook connection and a `lead.created`
    /// rule at it, and tells the receiver the signing secret.
    pub async fn receiver(
        &self,
        behaviour: Behaviour,
    ) -> anyhow::Result<(Receiver, proto::Connection)> {
        let receiver = Receiver::start(SocketAddr::from(([127, 0, 0, 1], 0)), behaviour).await?;
        let connection = self
            .client
            .create_webhook("receiver", &receiver.url("/hook"), HashMap::new())
            .await?;
        receiver.set_secret(&connection.signing_secret);
        self.client
            .create_rule(LEAD_CREATED, &connection.id)
            .await?;
        Ok((receiver, connection))
    }

    /// Emits a `lead.created` with `payload_json` as a client continuing
    /// the trace of `traceparent` would; the event's id.
    pub async fn emit_traced(
        &self,
        payload_json: &str,
        traceparent: &str,
    ) -> anyhow::Result<String> {
        let mut ingest = proto::ingest_service_client::IngestServiceClient::connect(
            self.stack.endpoints().ingest,
        )
        .await?;
        let mut request = tonic::Request::new(proto::EmitEventRequest {
            event_type: LEAD_CREATED.to_string(),
            payload_json: payload_json.to_string(),
            ..Default::default()
        });
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {}", self.api_key).parse()?);
        request
            .metadata_mut()
            .insert("traceparent", traceparent.parse()?);
        Ok(ingest.emit_event(request).await?.into_inner().event_id)
    }

    /// Polls until every delivery of the event is final (succeeded or dead).
    pub async fn final_deliveries(
        &self,
        event_id: &str,
        expected: usize,
    ) -> anyhow::Result<Vec<proto::GetDeliveryResponse>> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let final_status = [
            proto::DeliveryStatus::Succeeded as i32,
            proto::DeliveryStatus::Dead as i32,
        ];
        loop {
            let deliveries = self.client.list_deliveries(event_id).await?;
            if deliveries.len() >= expected
                && deliveries.iter().all(|d| final_status.contains(&d.status))
            {
                let mut full = Vec::new();
                for delivery in deliveries {
                    full.push(self.client.get_delivery(&delivery.id).await?);
                }
                return Ok(full);
            }
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!("deliveries of {event_id} not final within 30 s: {deliveries:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Counts rows with a SQL query returning one bigint.
    pub async fn count(&self, sql: &str) -> anyhow::Result<i64> {
        let client = self.pool.get().await.context("pool")?;
        Ok(client.query_one(sql, &[]).await?.get(0))
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.stack.stop().await
    }
}
