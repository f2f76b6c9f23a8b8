//! Test harness: a fresh database and Redis prefix, a workspace with
//! registered event types (written straight to Postgres: the registry is not
//! under test here), and routers served on 127.0.0.1:0. A test whose router
//! asks the delivery service (a connection made active again is re-enqueued
//! by it) starts a real one with [`Harness::start_delivery`]; the others
//! run without, so no engine takes the jobs they look at.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use deadpool_postgres::Pool;
use secrecy::SecretString;
use switchyard_client::{Client, Endpoints, proto};
use switchyard_core::config::Config;
use switchyard_core::ids::{EventId, WorkspaceId};
use switchyard_core::shutdown::{self, Trigger};
use switchyard_delivery_model::queue::QueueKeys;
use switchyard_router::backfill::BackfillSettings;
use switchyard_router::{RouterApp, RouterState};
use switchyard_tenancy::auth::create_workspace;
use switchyard_testkit::{TestDatabase, TestRedis};
use tokio::task::JoinHandle;

pub const TYPES: &[&str] = &["lead.created", "lead.updated", "invoice.paid"];

pub struct Harness {
    pub pool: Pool,
    pub workspace: WorkspaceId,
    pub api_key: String,
    pub config: Config,
    pub keys: QueueKeys,
    // Dropped last: they remove the database and the Redis keys.
    _redis: TestRedis,
    _database: TestDatabase,
}

/// A delivery service (engine included) on its own port, stopped on drop.
pub struct RunningDelivery {
    pub addr: SocketAddr,
    _trigger: Trigger,
    _task: JoinHandle<anyhow::Result<()>>,
}

/// A router serving on its own port, stopped on drop.
pub struct RunningRouter {
    pub state: RouterState,
    pub addr: SocketAddr,
    pub client: Client,
    _trigger: Trigger,
    _task: JoinHandle<anyhow::Result<()>>,
}

impl Harness {
    pub async fn new() -> Self {
        let database = TestDatabase::create().await.expect("test database");
        let redis = TestRedis::new();
        let pool = switchyard_core::db::pool(&database.url, 8).expect("pool");
        let (workspace, api_key) = create_workspace(
            &pool,
            &switchyard_tenancy::auth::KeyHasher::new(None),
            "test",
        )
        .await
        .expect("workspace");
        let harness_pool = pool.clone();
        let config = Config {
            database_url: database.url.clone(),
            database_pool_size: 8,
            redis_url: redis.url.clone(),
            redis_prefix: redis.prefix.clone(),
            internal_token: Some(SecretString::from("internal-test-token")),
            allowed_destination_networks: vec!["127.0.0.1/32".parse().expect("network")],
            router_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            // Nothing listens on the discard port: until a test starts a
            // delivery service, calls to it fail at once, as when it is down.
            delivery_endpoint: "http://127.0.0.1:9".to_string(),
            secrets: switchyard_testkit::secrets_config(),
            ..Config::default()
        };
        let harness = Self {
            keys: QueueKeys::new(&redis.prefix),
            pool: harness_pool,
            workspace,
            api_key,
            config,
            _redis: redis,
            _database: database,
        };
        harness.register_types(workspace).await;
        harness
    }

    pub async fn register_types(&self, workspace: WorkspaceId) {
        let client = self.pool.get().await.expect("client");
        for name in TYPES {
            client
                .execute(
                    "INSERT INTO event_types (workspace_id, name) VALUES ($1, $2)",
                    &[&workspace.as_uuid(), name],
                )
                .await
                .expect("event type");
        }
    }

    /// Another workspace (with the same types) and its key.
    pub async fn other_workspace(&self) -> (WorkspaceId, String) {
        let (workspace, key) = create_workspace(
            &self.pool,
            &switchyard_tenancy::auth::KeyHasher::new(None),
            "other",
        )
        .await
        .expect("workspace");
        self.register_types(workspace).await;
        (workspace, key)
    }

    /// Starts the delivery service on this harness's database and Redis
    /// prefix; routers started from now on call it.
    pub async fn start_delivery(&mut self) -> RunningDelivery {
        let (listener, addr) = switchyard_core::grpc::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind");
        let app = switchyard_delivery::DeliveryApp::build(&self.config)
            .await
            .expect("delivery");
        let (trigger, signal) = shutdown::channel();
        let task = tokio::spawn(app.run(listener, signal));
        self.config.delivery_endpoint = format!("http://{addr}");
        RunningDelivery {
            addr,
            _trigger: trigger,
            _task: task,
        }
    }

    pub async fn start_router(&self) -> RunningRouter {
        self.start_router_with(BackfillSettings::default()).await
    }

    /// A router whose backfill worker runs with `backfill`.
    pub async fn start_router_with(&self, backfill: BackfillSettings) -> RunningRouter {
        let app = RouterApp::build(&self.config)
            .await
            .expect("router")
            .with_backfill(backfill);
        let state = app.state().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (trigger, signal) = shutdown::channel();
        let task = tokio::spawn(app.run(listener, signal));
        let client = self.client(addr, &self.api_key);
        // Wait until the cache listener is up, as a deployed router would be
        // long before it matters.
        for _ in 0..100 {
            if state.cache.is_listening() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        RunningRouter {
            state,
            addr,
            client,
            _trigger: trigger,
            _task: task,
        }
    }

    pub fn client(&self, addr: SocketAddr, key: &str) -> Client {
        let url = format!("http://{addr}");
        let endpoints = Endpoints {
            registry: url.clone(),
            ingest: url.clone(),
            router: url.clone(),
            delivery: url,
        };
        Client::connect_lazy(&endpoints, key).expect("client")
    }

    /// Stores an event as ingest would.
    pub async fn event(&self, event_type: &str, payload: serde_json::Value) -> EventId {
        let id = EventId::generate();
        let client = self.pool.get().await.expect("client");
        client
            .execute(
                "INSERT INTO events (id, workspace_id, event_type, schema_version, payload) \
                 VALUES ($1, $2, $3, 1, $4)",
                &[
                    &id.as_uuid(),
                    &self.workspace.as_uuid(),
                    &event_type,
                    &payload,
                ],
            )
            .await
            .expect("event");
        id
    }

    /// Jobs on the stream.
    pub async fn stream_length(&self) -> i64 {
        let client = redis::Client::open(self.config.redis_url.as_str()).expect("redis");
        let mut connection = client
            .get_multiplexed_async_connection()
            .await
            .expect("redis");
        redis::cmd("XLEN")
            .arg(&self.keys.stream)
            .query_async(&mut connection)
            .await
            .expect("xlen")
    }

    /// `(status, last_error, body, enqueued)` of every delivery of the event,
    /// by connection name.
    pub async fn deliveries(&self, event: EventId) -> HashMap<String, DeliveryRow> {
        let client = self.pool.get().await.expect("client");
        client
            .query(
                "SELECT c.name, d.status, d.last_error, d.body, d.enqueued_at IS NOT NULL AS enqueued \
                 FROM deliveries d JOIN connections c ON c.id = d.connection_id WHERE d.event_id = $1",
                &[&event.as_uuid()],
            )
            .await
            .expect("deliveries")
            .iter()
            .map(|row| {
                (
                    row.get::<_, String>("name"),
                    DeliveryRow {
                        status: row.get("status"),
                        last_error: row.get("last_error"),
                        body: row.get("body"),
                        enqueued: row.get("enqueued"),
                    },
                )
            })
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryRow {
    pub status: String,
    pub last_error: String,
    pub body: Option<serde_json::Value>,
    pub enqueued: bool,
}

/// A webhook connection named `name` (its URL is never called here).
pub async fn connection(client: &Client, name: &str) -> String {
    client
        .create_webhook(name, "http://127.0.0.1:9/hook", HashMap::new())
        .await
        .expect("connection")
        .id
}

pub fn new_rule(event_type: &str, connection_id: &str) -> proto::CreateRuleRequest {
    proto::CreateRuleRequest {
        event_type: event_type.to_string(),
        connection_id: connection_id.to_string(),
        ..Default::default()
    }
}

pub async fn create_rule(client: &Client, request: proto::CreateRuleRequest) -> proto::Rule {
    client
        .router
        .clone()
        .create_rule(request)
        .await
        .expect("rule")
        .into_inner()
        .rule
        .expect("rule in response")
}
