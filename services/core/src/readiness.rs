//! `grpc.health.v1` follows Postgres: a service reports `NOT_SERVING` while
//! its database is unreachable, so load balancers and orchestrators send
//! calls elsewhere (and clients learn why) instead of collecting
//! `UNAVAILABLE` answers.
//!
//! 1. Every [`PROBE_INTERVAL`], a connection is taken from the service's own
//!    pool and answers `SELECT 1` within [`PROBE_TIMEOUT`].
//! 2. Success reports every service name (and the whole server, `""`) as
//!    `SERVING`; an outage (see [`crate::outage`]) as `NOT_SERVING`.
//! 3. Waiting for a free connection in a busy pool is not an outage: the
//!    status stays as it was.

use std::time::Duration;

use deadpool_postgres::{Pool, PoolError, TimeoutType};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::shutdown::Signal;

/// How often Postgres is probed.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// How long one probe may take before Postgres counts as unreachable.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// What one probe found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    Reachable,
    Unreachable,
    /// Every connection was busy: says nothing about reachability.
    Busy,
}

/// Takes a connection from `pool` and runs `SELECT 1`.
pub async fn probe(pool: &Pool) -> Probe {
    let attempt = async {
        // A shorter wait for a free connection than the probe's budget, so
        // a busy pool reads as busy rather than unreachable.
        let mut timeouts = pool.timeouts();
        timeouts.wait = Some(PROBE_TIMEOUT / 3);
        let client = match pool.timeout_get(&timeouts).await {
            Ok(client) => client,
            Err(PoolError::Timeout(TimeoutType::Wait)) => return Probe::Busy,
            Err(error) => {
                tracing::debug!(%error, "health probe could not connect");
                return Probe::Unreachable;
            }
        };
        match client.simple_query("SELECT 1").await {
            Ok(_) => Probe::Reachable,
            Err(error) => {
                tracing::debug!(%error, "health probe query failed");
                Probe::Unreachable
            }
        }
    };
    tokio::time::timeout(PROBE_TIMEOUT, attempt)
        .await
        .unwrap_or(Probe::Unreachable)
}

/// Reports `service_names` (and `""`) by the state of `pool` until
/// `shutdown` trips, logging each change.
pub async fn follow_postgres(
    pool: Pool,
    reporter: HealthReporter,
    service_names: Vec<String>,
    shutdown: Signal,
) {
    let reported = std::sync::Mutex::new(ServingStatus::Serving);
    let stopping = shutdown.clone();
    crate::shutdown::every(PROBE_INTERVAL, shutdown, || async {
        let status = match probe(&pool).await {
            Probe::Reachable => ServingStatus::Serving,
            Probe::Unreachable => ServingStatus::NotServing,
            Probe::Busy => return,
        };
        // A stopping server reports NOT_SERVING (`grpc::serve`); a probe
        // finishing after the stop must not turn it back.
        if stopping.is_tripped() || reported.lock().is_ok_and(|reported| *reported == status) {
            return;
        }
        match status {
            ServingStatus::NotServing => {
                tracing::warn!("postgres unreachable: health is NOT_SERVING")
            }
            _ => tracing::info!("postgres reachable again: health is SERVING"),
        }
        for name in service_names.iter().map(String::as_str).chain([""]) {
            reporter.set_service_status(name, status).await;
        }
        if let Ok(mut reported) = reported.lock() {
            *reported = status;
        }
    })
    .await;
}
