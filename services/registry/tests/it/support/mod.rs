//! Starts the real registry on a free port against a fresh database, with
//! one workspace and its API key, and a client for it.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use switchyard_core::config::Config;
use switchyard_core::shutdown::{self, Trigger};
use switchyard_core::{db, grpc};
use switchyard_proto::v1::registry_service_client::RegistryServiceClient;
use switchyard_proto::v1::{Compatibility, RegisterSchemaRequest};
use switchyard_registry::RegistryApp;
use switchyard_tenancy::auth;
use switchyard_testkit::TestDatabase;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

pub struct TestApp {
    pub client: RegistryServiceClient<Channel>,
    /// The API key of the `acme` workspace.
    pub key: String,
    /// A pool on the test database, to look at rows directly.
    pub pool: Pool,
    // Dropped after the client: stops the server, then drops the database.
    _shutdown: Trigger,
    database: Arc<TestDatabase>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        let database = TestDatabase::create().await.expect("test database");
        let pool = db::pool(&database.url, 2).expect("pool");
        let (_, key) = auth::create_workspace(
            &pool,
            &switchyard_tenancy::auth::KeyHasher::new(None),
            "acme",
        )
        .await
        .expect("workspace");
        Self::start(Arc::new(database), pool, key).await
    }

    /// Another server on the same database, with a cold validator cache.
    pub async fn restarted(&self) -> Self {
        Self::start(
            Arc::clone(&self.database),
            self.pool.clone(),
            self.key.clone(),
        )
        .await
    }

    async fn start(database: Arc<TestDatabase>, pool: Pool, key: String) -> Self {
        let config = Config {
            database_url: database.url.clone(),
            database_pool_size: 4,
            ..Config::default()
        };
        let (listener, addr) = grpc::bind("127.0.0.1:0".parse().expect("address"))
            .await
            .expect("bind");
        let app = RegistryApp::build(&config).await.expect("build");
        let (trigger, signal) = shutdown::channel();
        tokio::spawn(app.run(listener, signal));
        let client = RegistryServiceClient::connect(format!("http://{addr}"))
            .await
            .expect("connect");
        Self {
            client,
            key,
            pool,
            _shutdown: trigger,
            database,
        }
    }

    /// A second workspace's API key.
    pub async fn other_workspace_key(&self, slug: &str) -> String {
        auth::create_workspace(
            &self.pool,
            &switchyard_tenancy::auth::KeyHasher::new(None),
            slug,
        )
        .await
        .expect("workspace")
        .1
    }

    /// `message` with the `acme` workspace's key.
    pub fn request<T>(&self, message: T) -> Request<T> {
        with_key(&self.key, message)
    }

    /// Registers `json_schema` for `event_type` and returns the version.
    pub async fn register(&self, event_type: &str, json_schema: &str) -> u32 {
        self.register_with(event_type, json_schema, Compatibility::Unspecified)
            .await
    }

    /// As [`TestApp::register`], creating the type with `compatibility`.
    pub async fn register_with(
        &self,
        event_type: &str,
        json_schema: &str,
        compatibility: Compatibility,
    ) -> u32 {
        self.client
            .clone()
            .register_schema(self.request(RegisterSchemaRequest {
                event_type: event_type.to_string(),
                json_schema: json_schema.to_string(),
                description: String::new(),
                compatibility: compatibility.into(),
            }))
            .await
            .expect("registered")
            .into_inner()
            .version
    }

    pub async fn count(&self, table: &str) -> i64 {
        let client = self.pool.get().await.expect("connection");
        client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .expect("count")
            .get(0)
    }
}

impl TestApp {
    /// Waits until `count` registries trust their head caches: each
    /// listener pings with `SELECT 1` right after `LISTEN` succeeds, so its
    /// session shows that query from then on.
    pub async fn wait_for_listeners(&self, count: i64) {
        let sql = "SELECT count(*) FROM pg_stat_activity \
                   WHERE datname = current_database() \
                     AND application_name = 'switchyard-registry-listener' AND query = 'SELECT 1'";
        let found = self
            .eventually(|| async {
                let client = self.pool.get().await.expect("connection");
                let listening: i64 = client.query_one(sql, &[]).await.expect("count").get(0);
                (listening >= count).then_some(listening)
            })
            .await;
        assert!(found >= count);
    }

    /// The `acme` workspace's id.
    pub async fn workspace_id(&self) -> uuid::Uuid {
        let client = self.pool.get().await.expect("connection");
        client
            .query_one("SELECT id FROM workspaces WHERE slug = 'acme'", &[])
            .await
            .expect("workspace")
            .get(0)
    }

    /// Polls `probe` every 20 ms until it returns a value; panics after
    /// [`EVENTUALLY`].
    pub async fn eventually<T, F, Fut>(&self, mut probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = tokio::time::Instant::now() + EVENTUALLY;
        loop {
            if let Some(value) = probe().await {
                return value;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not within {EVENTUALLY:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// How long [`TestApp::eventually`] waits.
pub const EVENTUALLY: Duration = Duration::from_secs(5);

pub fn with_key<T>(key: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {key}").parse().expect("ascii"),
    );
    request
}

/// The status of a call that must fail with `code`.
pub fn expect_error<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) -> Status {
    match result {
        Ok(response) => panic!("expected {code:?}, got {response:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{}", status.message());
            status
        }
    }
}
