//! Which failures of a dependency are outages — Postgres, Redis or another
//! Switchyard service unreachable, restarting or refusing connections — as
//! opposed to bugs. An outage passes: the caller should retry later, so
//! [`crate::error`] answers it `UNAVAILABLE` with a `google.rpc.RetryInfo`;
//! anything else stays `INTERNAL`.
//!
//! The tests look at the error's kind, never at its message:
//! 1. a pool that timed out or was closed, or could not connect;
//! 2. a Postgres connection that is closed, failed with an I/O error, or was
//!    refused by the server for a passing reason (SQLSTATE class 08, admin
//!    or crash shutdown, "starting up", too many connections);
//! 3. a Redis I/O error (refused, dropped, timed out) or a server that is
//!    loading its data set or has no master;
//! 4. errors wrapped in `anyhow` contexts are searched along their chain.

use std::error::Error as StdError;
use std::fmt;

use deadpool_postgres::{HookError, PoolError};
use tokio_postgres::error::SqlState;

/// The dependency an outage is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dependency {
    Postgres,
    Redis,
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Postgres => "the database",
            Self::Redis => "the queue (Redis)",
        })
    }
}

/// True when a Postgres error means the server is unreachable or not
/// accepting work for now.
pub fn postgres(error: &tokio_postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    if let Some(code) = error.code() {
        return is_transient_sqlstate(code);
    }
    // Connecting, reading and writing fail with an `io::Error` source.
    error
        .source()
        .is_some_and(|source| source.downcast_ref::<std::io::Error>().is_some())
}

fn is_transient_sqlstate(code: &SqlState) -> bool {
    // Class 08: connection exception (the server dropped or refused us).
    code.code().starts_with("08")
        || *code == SqlState::ADMIN_SHUTDOWN
        || *code == SqlState::CRASH_SHUTDOWN
        || *code == SqlState::CANNOT_CONNECT_NOW
        || *code == SqlState::TOO_MANY_CONNECTIONS
}

/// True when taking a connection from the pool failed for an outage.
pub fn pool(error: &PoolError) -> bool {
    match error {
        // Waiting for a free connection, connecting or recycling one took
        // too long: Postgres is down, slow or every connection is busy.
        PoolError::Timeout(_) | PoolError::Closed => true,
        PoolError::Backend(error) | PoolError::PostCreateHook(HookError::Backend(error)) => {
            postgres(error)
        }
        PoolError::PostCreateHook(HookError::Message(_)) | PoolError::NoRuntimeSpecified => false,
    }
}

/// True when a Redis error means the server is unreachable or not ready.
pub fn redis(error: &redis::RedisError) -> bool {
    use redis::{ErrorKind, ServerErrorKind};
    error.is_io_error()
        || error.is_connection_refusal()
        || error.is_connection_dropped()
        || error.is_timeout()
        || matches!(
            error.kind(),
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::ClusterDown
            )
        )
}

/// The dependency whose outage caused `error`, looking through every
/// context wrapped around it.
pub fn find(error: &anyhow::Error) -> Option<Dependency> {
    error.chain().find_map(classify)
}

fn classify(error: &(dyn StdError + 'static)) -> Option<Dependency> {
    if let Some(error) = error.downcast_ref::<PoolError>() {
        return pool(error).then_some(Dependency::Postgres);
    }
    if let Some(error) = error.downcast_ref::<tokio_postgres::Error>() {
        return postgres(error).then_some(Dependency::Postgres);
    }
    if let Some(error) = error.downcast_ref::<redis::RedisError>() {
        return redis(error).then_some(Dependency::Redis);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;
    use deadpool_postgres::TimeoutType;

    /// A loopback port nothing listens on (bound, then released).
    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    }

    #[tokio::test]
    async fn a_refused_postgres_connection_is_an_outage() {
        let url = format!("postgres://postgres@127.0.0.1:{}/x", closed_port());
        let Err(error) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await else {
            panic!("connected to a closed port");
        };
        assert!(postgres(&error), "{error:?}");
        let wrapped = anyhow::Error::new(error).context("loading rules");
        assert_eq!(find(&wrapped), Some(Dependency::Postgres));
    }

    #[tokio::test]
    async fn a_pool_that_cannot_connect_reports_an_outage() {
        let url = format!("postgres://postgres@127.0.0.1:{}/x", closed_port());
        let pool = crate::db::pool(&url, 2).expect("pool");
        let Err(error) = pool.get().await else {
            panic!("connected to a closed port");
        };
        assert!(pool_error_is_backend(&error), "{error:?}");
        assert!(super::pool(&error));
    }

    fn pool_error_is_backend(error: &PoolError) -> bool {
        matches!(error, PoolError::Backend(_))
    }

    #[test]
    fn pool_timeouts_are_outages_and_a_missing_runtime_is_a_bug() {
        assert!(pool(&PoolError::Timeout(TimeoutType::Wait)));
        assert!(pool(&PoolError::Timeout(TimeoutType::Create)));
        assert!(pool(&PoolError::Closed));
        assert!(!pool(&PoolError::NoRuntimeSpecified));
    }

    #[tokio::test]
    async fn a_refused_redis_connection_is_an_outage() {
        let url = format!("redis://127.0.0.1:{}", closed_port());
        let client = redis::Client::open(url).expect("client");
        let Err(error) = client.get_multiplexed_async_connection().await else {
            panic!("connected to a closed port");
        };
        assert!(redis(&error), "{error:?}");
        let wrapped = Err::<(), _>(error)
            .context("enqueueing")
            .expect_err("error");
        assert_eq!(find(&wrapped), Some(Dependency::Redis));
    }

    #[test]
    fn redis_errors_of_ours_are_not_outages() {
        let wrong_type =
            redis::RedisError::from((redis::ErrorKind::UnexpectedReturnType, "not a stream"));
        assert!(!redis(&wrong_type));
        let loading = redis::RedisError::from((
            redis::ErrorKind::Server(redis::ServerErrorKind::BusyLoading),
            "loading",
        ));
        assert!(redis(&loading));
    }

    #[test]
    fn plain_errors_are_not_outages() {
        let bug = anyhow::anyhow!("index out of range").context("routing");
        assert_eq!(find(&bug), None);
        let io = anyhow::Error::new(std::io::Error::other("disk")).context("reading a file");
        assert_eq!(find(&io), None, "only dependency errors are outages");
    }
}
