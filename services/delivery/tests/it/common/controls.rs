//! Helpers for the engine's controls: connections with a policy or a
//! state, many deliveries at once, Redis losing its data (only this test's
//! keys: the shared server is never flushed), a service that can be killed
//! like a crashed process, and polling for outcomes.

use std::time::Duration;

use switchyard_core::config::Config;
use switchyard_core::ids::{ConnectionId, DeliveryId};
use switchyard_delivery::DeliveryApp;
use switchyard_delivery::limits::{BreakerSnapshot, ConnectionKeys, read_breaker};

use super::{PATIENCE, TestEnv};

/// A delivery service on a runtime of its own, which [`KillableApp::kill`]
/// drops with every task in flight: no shutdown, no acknowledgement — a
/// crashed process as far as Redis and Postgres can tell.
pub struct KillableApp {
    runtime: tokio::runtime::Runtime,
}

impl KillableApp {
    pub fn kill(self) {
        self.runtime.shutdown_background();
    }
}

impl TestEnv {
    /// A webhook connection to `url` with a stored delivery `policy`.
    pub async fn connection_with_policy(
        &self,
        url: &str,
        policy: serde_json::Value,
    ) -> (ConnectionId, String) {
        let (connection, secret) = self.insert_connection(url, serde_json::json!({})).await;
        self.execute(
            "UPDATE connections SET policy = $2 WHERE id = $1",
            &[&connection.as_uuid(), &policy],
        )
        .await;
        (connection, secret)
    }

    /// `count` events with one pending delivery each to `connection`, in
    /// creation order (no jobs yet).
    pub async fn deliveries_to(&self, connection: ConnectionId, count: usize) -> Vec<DeliveryId> {
        let mut deliveries = Vec::with_capacity(count);
        for n in 0..count {
            let event = self.insert_event(&serde_json::json!({ "n": n })).await;
            deliveries.push(self.insert_delivery(event, connection).await);
        }
        deliveries
    }

    pub async fn enqueue_all(&self, deliveries: &[DeliveryId]) {
        for delivery in deliveries {
            self.enqueue(*delivery).await;
        }
    }

    pub async fn set_connection_state(&self, connection: ConnectionId, state: &str) {
        self.execute(
            "UPDATE connections SET state = $2 WHERE id = $1",
            &[&connection.as_uuid(), &state],
        )
        .await;
    }

    /// `(state, state_reason)` of a connection.
    pub async fn connection_state(&self, connection: ConnectionId) -> (String, String) {
        let client = self.pool.get().await.expect("client");
        let row = client
            .query_one(
                "SELECT state, state_reason FROM connections WHERE id = $1",
                &[&connection.as_uuid()],
            )
            .await
            .expect("connection row");
        (row.get(0), row.get(1))
    }

    pub async fn breaker(&self, connection: ConnectionId) -> BreakerSnapshot {
        let redis = switchyard_core::redis_conn::Target::Single(self.redis.url.clone())
            .connect()
            .await
            .expect("redis");
        read_breaker(&redis, &ConnectionKeys::new(&self.redis.prefix, connection))
            .await
            .expect("breaker")
    }

    /// As if Redis restarted without persistence: every key of this test's
    /// prefix is deleted.
    pub async fn lose_redis_data(&self) -> usize {
        let mut redis = self.redis_connection().await;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.redis.prefix))
            .query_async(&mut redis)
            .await
            .expect("keys");
        if !keys.is_empty() {
            let _: usize = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut redis)
                .await
                .expect("del");
        }
        keys.len()
    }

    /// Attempt rows of several deliveries.
    pub async fn attempt_count(&self, deliveries: &[DeliveryId]) -> i64 {
        let ids: Vec<uuid::Uuid> = deliveries.iter().map(|d| d.as_uuid()).collect();
        let client = self.pool.get().await.expect("client");
        client
            .query_one(
                "SELECT count(*) FROM delivery_attempts WHERE delivery_id = ANY($1)",
                &[&ids],
            )
            .await
            .expect("count")
            .get(0)
    }

    /// How many of `deliveries` have `status`.
    pub async fn count_with_status(&self, deliveries: &[DeliveryId], status: &str) -> usize {
        let ids: Vec<uuid::Uuid> = deliveries.iter().map(|d| d.as_uuid()).collect();
        let client = self.pool.get().await.expect("client");
        let count: i64 = client
            .query_one(
                "SELECT count(*) FROM deliveries WHERE id = ANY($1) AND status = $2",
                &[&ids, &status],
            )
            .await
            .expect("count")
            .get(0);
        usize::try_from(count).unwrap_or(0)
    }

    /// Waits until every delivery has `status`.
    pub async fn wait_for_all(&self, deliveries: &[DeliveryId], status: &str) {
        for delivery in deliveries {
            self.wait_for_status(*delivery, status).await;
        }
    }

    /// Runs the delivery service on its own runtime, to be killed.
    pub fn start_killable(&self, config: &Config) -> KillableApp {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let config = config.clone();
        runtime.spawn(async move {
            let (listener, _) = switchyard_core::grpc::bind("127.0.0.1:0".parse().expect("addr"))
                .await
                .expect("bind");
            let app = DeliveryApp::build(&config).await.expect("build");
            let (_trigger, signal) = switchyard_core::shutdown::channel();
            let _ = app.run(listener, signal).await;
        });
        KillableApp { runtime }
    }
}

/// Polls `probe` until it returns true; panics with `what` after
/// [`PATIENCE`].
pub async fn eventually<F, Fut>(what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !probe().await {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Pairs out of creation order in `arrived`, counting only deliveries at
/// least `distance` apart in creation order (closer ones may be in flight
/// together, and concurrent requests arrive in any order).
pub fn inversions(created: &[DeliveryId], arrived: &[String], distance: usize) -> usize {
    let position = |id: &String| created.iter().position(|d| &d.to_string() == id);
    let order: Vec<usize> = arrived.iter().filter_map(position).collect();
    let mut count = 0;
    for (i, a) in order.iter().enumerate() {
        count += order[i + 1..]
            .iter()
            .filter(|b| **b + distance <= *a)
            .count();
    }
    count
}
