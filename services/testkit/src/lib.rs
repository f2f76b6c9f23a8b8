//! Test support used by every crate's integration tests: a fresh, migrated
//! Postgres database and a fresh Redis key prefix per test, both removed
//! when the test ends so tests run in parallel and leave nothing behind,
//! and a fresh master key per test ([`secrets_config`]); [`cluster`]
//! starts a throwaway 3-node Redis Cluster.
//!
//! The server comes from `SWITCHYARD_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and `SWITCHYARD_TEST_REDIS_URL`
//! (default `redis://127.0.0.1:6379`).

pub mod cluster;

use anyhow::Context;
use tokio_postgres::NoTls;

/// A configuration of one fresh master key (id `test`), for services that
/// seal connection credentials.
pub fn secrets_config() -> switchyard_core::config::SecretsConfig {
    let mut config = switchyard_core::config::SecretsConfig::default();
    config.keys.insert(
        "test".to_string(),
        secrecy::SecretString::from(switchyard_core::config::generate_master_key()),
    );
    config
}

fn admin_url() -> String {
    std::env::var("SWITCHYARD_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

pub fn redis_url() -> String {
    std::env::var("SWITCHYARD_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

/// A migrated database of its own; dropped (with every connection to it
/// terminated) when this value is dropped.
pub struct TestDatabase {
    pub url: String,
    name: String,
}

impl TestDatabase {
    pub async fn create() -> anyhow::Result<Self> {
        let name = format!("sy_test_{}", uuid::Uuid::now_v7().simple());
        let url = url_with_database(&admin_url(), &name)?;
        switchyard_core::db::migrate(&url)
            .await
            .context("migrating the test database")?;
        Ok(Self { url, name })
    }

    /// A database migrated up to `version` only (see [`switchyard_core::db::migrate_to`]).
    pub async fn create_at(version: i32) -> anyhow::Result<Self> {
        let name = format!("sy_test_{}", uuid::Uuid::now_v7().simple());
        let url = url_with_database(&admin_url(), &name)?;
        switchyard_core::db::migrate_to(&url, version)
            .await
            .context("migrating the test database")?;
        Ok(Self { url, name })
    }
}

fn url_with_database(admin: &str, name: &str) -> anyhow::Result<String> {
    let mut url = url::Url::parse(admin).context("SWITCHYARD_TEST_DATABASE_URL must be a URL")?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async context: use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let Ok((client, connection)) = tokio_postgres::connect(&admin_url(), NoTls).await
                else {
                    return;
                };
                tokio::spawn(connection);
                let _ = client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await;
            });
        })
        .join();
    }
}

/// A Redis key prefix of its own; every key under it is deleted on drop.
pub struct TestRedis {
    pub url: String,
    pub prefix: String,
}

impl TestRedis {
    pub fn new() -> Self {
        Self {
            url: redis_url(),
            prefix: format!("sytest:{}", uuid::Uuid::now_v7().simple()),
        }
    }
}

impl Default for TestRedis {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let url = self.url.clone();
        let pattern = format!("{}:*", self.prefix);
        let _ = std::thread::spawn(move || {
            let Ok(client) = redis::Client::open(url) else {
                return;
            };
            let Ok(mut connection) = client.get_connection() else {
                return;
            };
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(&pattern)
                .query(&mut connection)
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query(&mut connection);
            }
        })
        .join();
    }
}
