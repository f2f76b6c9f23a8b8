//! Starts the registry and ingest on free ports against a fresh database,
//! with one workspace, its API key and `lead.created` registered.

#![allow(dead_code)] // Each test uses a different subset.

use std::net::SocketAddr;
use std::sync::Arc;

use deadpool_postgres::Pool;
use secrecy::SecretString;
use switchyard_client::{Client, Endpoints};
use switchyard_core::config::Config;
use switchyard_core::shutdown::{self, Trigger};
use switchyard_core::{db, grpc};
use switchyard_ingest::IngestApp;
use switchyard_ingest::commit::CommitStats;
use switchyard_registry::RegistryApp;
use switchyard_tenancy::auth;
use switchyard_testkit::TestDatabase;

pub const LEAD: &str = "lead.created";

pub struct Harness {
    pub client: Client,
    /// Where the services listen, for clients of other workspaces.
    pub endpoints: Endpoints,
    pub pool: Pool,
    pub stats: Arc<CommitStats>,
    _registry: Trigger,
    _ingest: Trigger,
    _database: TestDatabase,
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let database = TestDatabase::create().await.expect("test database");
        let pool = db::pool(&database.url, 4).expect("pool");
        let (_, key) = auth::create_workspace(&pool, &auth::KeyHasher::new(None), "acme")
            .await
            .expect("workspace");
        let any: SocketAddr = "127.0.0.1:0".parse().expect("address");
        let (registry_listener, registry_addr) = grpc::bind(any).await.expect("bind");
        let (ingest_listener, ingest_addr) = grpc::bind(any).await.expect("bind");
        // Nothing listens here: routing calls fail and are left to the
        // outbox, which these tests do not need.
        let (closed, router_addr) = grpc::bind(any).await.expect("bind");
        drop(closed);
        let mut config = Config {
            database_url: database.url.clone(),
            database_pool_size: 8,
            registry_endpoint: format!("http://{registry_addr}"),
            router_endpoint: format!("http://{router_addr}"),
            internal_token: Some(SecretString::from("sy_internal_test_token")),
            ..Config::default()
        };
        adjust(&mut config);
        let registry = RegistryApp::build(&config).await.expect("registry");
        let (registry_trigger, signal) = shutdown::channel();
        tokio::spawn(registry.run(registry_listener, signal));
        let ingest = IngestApp::build(&config).await.expect("ingest");
        let stats = ingest.stats();
        let (ingest_trigger, signal) = shutdown::channel();
        tokio::spawn(ingest.run(ingest_listener, signal));
        let endpoints = Endpoints {
            registry: format!("http://{registry_addr}"),
            ingest: format!("http://{ingest_addr}"),
            router: format!("http://{router_addr}"),
            delivery: format!("http://{router_addr}"),
        };
        let client = Client::connect_lazy_with(&endpoints, &key, None).expect("client");
        client
            .register_schema(
                LEAD,
                &serde_json::json!({
                    "type": "object",
                    "required": ["email"],
                    "properties": {"email": {"type": "string"}, "n": {"type": "integer"}}
                }),
                "a lead",
            )
            .await
            .expect("schema");
        Self {
            client,
            endpoints,
            pool,
            stats,
            _registry: registry_trigger,
            _ingest: ingest_trigger,
            _database: database,
        }
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let client = self.pool.get().await.expect("pool");
        client.query_one(sql, &[]).await.expect("count").get(0)
    }
}

pub fn lead(payload: serde_json::Value, key: &str) -> switchyard_client::proto::EmitEventRequest {
    switchyard_client::proto::EmitEventRequest {
        event_type: LEAD.to_string(),
        payload_json: payload.to_string(),
        idempotency_key: key.to_string(),
        schema_version: 0,
    }
}
