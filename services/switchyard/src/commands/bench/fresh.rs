//! The bench's own database and Redis prefix, so no run inherits another's
//! backlog (deliveries still retrying to a failing receiver of the previous
//! run, open breakers, parked jobs): a database `switchyard_bench_<n>` is
//! created on the configured server (migrated when the services start) and
//! the prefix becomes `<prefix>:bench_<n>`; both are dropped after the run
//! unless `--keep`. [`clean_start`] checks, before the first emit, that the
//! queue and the history are empty.

use anyhow::Context;
use serde_json::{Value, json};
use switchyard_core::config::Config;
use switchyard_core::redis_conn::Target;
use switchyard_delivery_model::queue::QueueLayout;
use tokio_postgres::NoTls;

pub struct Fresh {
    admin_url: String,
    pub database: String,
    redis: Target,
    pub prefix: String,
}

impl Fresh {
    /// Creates the database and points `config` at it and at a new prefix.
    pub async fn create(config: &mut Config) -> anyhow::Result<Self> {
        let mut url = url::Url::parse(&config.database_url).context("database_url is not a URL")?;
        let suffix = format!(
            "{:x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        let database = format!("switchyard_bench_{suffix}");
        url.set_path("/postgres");
        let admin_url = url.to_string();
        admin(&admin_url, &format!("CREATE DATABASE \"{database}\""))
            .await
            .with_context(|| format!("creating the bench database {database}"))?;
        url.set_path(&format!("/{database}"));
        config.database_url = url.to_string();
        let prefix = format!("{}:bench_{suffix}", config.redis_prefix);
        config.redis_prefix = prefix.clone();
        Ok(Self {
            admin_url,
            database,
            redis: Target::from_config(config)?,
            prefix,
        })
    }

    /// Drops the database and every key under the prefix.
    pub async fn remove(self) -> anyhow::Result<()> {
        admin(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.database),
        )
        .await
        .context("dropping the bench database")?;
        let mut redis = self.redis.connect().await?;
        // On a cluster `KEYS` asks every primary; the keys then span slots,
        // so each is deleted on its own.
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query_async(&mut redis)
            .await?;
        for key in keys {
            redis::cmd("DEL")
                .arg(key)
                .query_async::<()>(&mut redis)
                .await?;
        }
        Ok(())
    }
}

async fn admin(url: &str, statement: &str) -> anyhow::Result<()> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .context("connecting to Postgres")?;
    tokio::spawn(connection);
    client.batch_execute(statement).await?;
    Ok(())
}

/// What waits before the first emit: all zero on a clean start.
pub async fn clean_start(pool: &deadpool_postgres::Pool, config: &Config) -> anyhow::Result<Value> {
    let client = pool.get().await.context("connecting to Postgres")?;
    let deliveries: i64 = client
        .query_one("SELECT count(*) FROM deliveries", &[])
        .await?
        .get(0);
    let mut redis = switchyard_core::redis_conn::connect(config).await?;
    let (mut stream, mut delayed) = (0_u64, 0_u64);
    for keys in QueueLayout::from_config(config).partitions() {
        stream += redis::cmd("XLEN")
            .arg(&keys.stream)
            .query_async::<u64>(&mut redis)
            .await?;
        delayed += redis::cmd("ZCARD")
            .arg(&keys.delayed)
            .query_async::<u64>(&mut redis)
            .await?;
    }
    Ok(json!({
        "clean": deliveries == 0 && stream == 0 && delayed == 0,
        "deliveries": deliveries,
        "stream_jobs": stream,
        "delayed_jobs": delayed,
    }))
}
