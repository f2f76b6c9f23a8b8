//! Postgres: the connection pool every service uses and the SQL migrations
//! in `migrations/` (embedded at build time, applied by refinery).

use std::str::FromStr;

use anyhow::Context;
use std::time::Duration;

use deadpool_postgres::{Hook, HookError, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

mod embedded {
    refinery::embed_migrations!("../../migrations");
}

/// Longest wait for a free connection of a busy pool.
const POOL_WAIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest time to open (or check) a connection: an unreachable server
/// fails calls after this instead of holding them.
const POOL_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A pool of connections to `database_url`. Taking a connection fails
/// (as an outage, see [`crate::outage`]) rather than waiting forever when
/// Postgres is unreachable or every connection stays busy.
pub fn pool(database_url: &str, max_size: usize) -> anyhow::Result<Pool> {
    pool_with_settings(database_url, max_size, &[])
}

/// A pool whose sessions start with the given settings (`name`, `value`),
/// e.g. planner settings for a hot path. They are `SET` once per new
/// connection (not passed as startup options, which poolers such as
/// PgBouncer refuse). Names and values are the caller's constants.
pub fn pool_with_settings(
    database_url: &str,
    max_size: usize,
    settings: &[(&str, &str)],
) -> anyhow::Result<Pool> {
    let pg_config = tokio_postgres::Config::from_str(database_url)
        .with_context(|| format!("invalid database URL {}", redact(database_url)))?;
    let manager = Manager::from_config(
        pg_config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let mut builder = Pool::builder(manager)
        .max_size(max_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(POOL_WAIT_TIMEOUT))
        .create_timeout(Some(POOL_CONNECT_TIMEOUT))
        .recycle_timeout(Some(POOL_CONNECT_TIMEOUT));
    if !settings.is_empty() {
        let statement: String = settings
            .iter()
            .map(|(name, value)| format!("SET {name} = {value}; "))
            .collect();
        builder = builder.post_create(Hook::async_fn(move |client, _| {
            let statement = statement.clone();
            Box::pin(async move {
                client
                    .batch_execute(&statement)
                    .await
                    .map_err(HookError::Backend)
            })
        }));
    }
    builder.build().context("building the Postgres pool")
}

/// Creates the database named in `database_url` if it does not exist yet, by
/// connecting to the server's `postgres` database.
pub async fn create_database_if_missing(database_url: &str) -> anyhow::Result<()> {
    let target = tokio_postgres::Config::from_str(database_url)
        .with_context(|| format!("invalid database URL {}", redact(database_url)))?;
    let Some(name) = target.get_dbname().map(str::to_string) else {
        return Ok(());
    };
    let mut admin = target.clone();
    admin.dbname("postgres");
    let (client, connection) = admin
        .connect(NoTls)
        .await
        .with_context(|| format!("connecting to Postgres at {}", redact(database_url)))?;
    let driver = tokio::spawn(connection);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .context("looking up the database")?
        .is_some();
    if !exists {
        let quoted = name.replace('"', "\"\"");
        match client
            .batch_execute(&format!("CREATE DATABASE \"{quoted}\""))
            .await
        {
            Ok(()) => tracing::info!(database = %name, "created database"),
            // Another process created it between our check and our CREATE.
            Err(error)
                if error.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {}
            Err(error) => return Err(error).context("creating the database"),
        }
    }
    drop(client);
    driver.abort();
    Ok(())
}

/// Applies every migration not yet applied. Safe to run concurrently from
/// several processes: refinery serialises on its history table.
pub async fn migrate(database_url: &str) -> anyhow::Result<usize> {
    create_database_if_missing(database_url).await?;
    let (mut client, connection) = tokio_postgres::connect(database_url, NoTls)
        .await
        .with_context(|| format!("connecting to Postgres at {}", redact(database_url)))?;
    let driver = tokio::spawn(connection);
    // Serialise concurrent migrators (all-in-one start-ups, tests).
    client
        .batch_execute("SELECT pg_advisory_lock(7236115)")
        .await
        .context("taking the migration lock")?;
    let report = embedded::migrations::runner()
        .run_async(&mut client)
        .await
        .context("applying migrations");
    client
        .batch_execute("SELECT pg_advisory_unlock(7236115)")
        .await
        .context("releasing the migration lock")?;
    let applied = report?.applied_migrations().len();
    drop(client);
    driver.abort();
    Ok(applied)
}

/// Applies the migrations up to `version` only: tests of a migration
/// write rows in the schema before it, then [`migrate`] the rest.
pub async fn migrate_to(database_url: &str, version: i32) -> anyhow::Result<()> {
    create_database_if_missing(database_url).await?;
    let (mut client, connection) = tokio_postgres::connect(database_url, NoTls)
        .await
        .with_context(|| format!("connecting to Postgres at {}", redact(database_url)))?;
    let driver = tokio::spawn(connection);
    let report = embedded::migrations::runner()
        .set_target(refinery::Target::Version(version))
        .run_async(&mut client)
        .await
        .with_context(|| format!("applying migrations up to V{version}"));
    drop(client);
    driver.abort();
    report.map(|_| ())
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// True when the error is a unique-constraint violation (SQLSTATE 23505).
pub fn is_unique_violation(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
}

/// True when Postgres chose this statement's transaction as a deadlock
/// victim (SQLSTATE 40P01). The transaction was rolled back whole, so it may
/// simply be run again.
pub fn is_deadlock(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED)
}

/// Times a statement chosen as a deadlock victim is run in all.
pub const DEADLOCK_TRIES: usize = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
