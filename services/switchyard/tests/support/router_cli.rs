//! A router (with its background workers) on fresh Postgres and Redis, and
//! a workspace's API key: what the CLI tests run `switchyard` against.
//! Each test binary includes it and reads only the fields it needs.
#![allow(dead_code)]

use switchyard::stack::{ServiceKind, Stack};
use switchyard_core::ids::WorkspaceId;
use switchyard_testkit::{TestDatabase, TestRedis, secrets_config};

pub struct RouterForCli {
    pub stack: Stack,
    pub pool: deadpool_postgres::Pool,
    pub workspace: WorkspaceId,
    pub key: String,
    /// The router's endpoint, for `SWITCHYARD_ROUTER_ENDPOINT`.
    pub router: String,
    _database: TestDatabase,
    _redis: TestRedis,
}

impl RouterForCli {
    pub async fn start() -> anyhow::Result<Self> {
        let database = TestDatabase::create().await?;
        let redis = TestRedis::new();
        let any_port = "127.0.0.1:0".parse()?;
        let mut config = switchyard_core::config::Config {
            database_url: database.url.clone(),
            database_pool_size: 4,
            redis_url: redis.url.clone(),
            redis_prefix: redis.prefix.clone(),
            registry_addr: any_port,
            ingest_addr: any_port,
            router_addr: any_port,
            delivery_addr: any_port,
            secrets: secrets_config(),
            allowed_destination_networks: vec!["127.0.0.1/32".parse()?],
            ..Default::default()
        };
        config.telemetry.metrics_addr = None;
        let stack = Stack::start(config, &[ServiceKind::Router]).await?;
        let pool = switchyard_core::db::pool(&database.url, 2)?;
        let (workspace, key) = switchyard_tenancy::auth::create_workspace(
            &pool,
            &switchyard_tenancy::auth::KeyHasher::new(None),
            "cli",
        )
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
        let router = stack.endpoints().router;
        Ok(Self {
            stack,
            pool,
            workspace,
            key,
            router,
            _database: database,
            _redis: redis,
        })
    }
}
