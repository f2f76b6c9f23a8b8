//! Jobs of a connection at its in-process cap wait in that connection's
//! own Redis list: a hanging destination's backlog sits there (not in the
//! stream or the delayed set) while the healthy ones are delivered; a slow
//! one's backlog is taken over one job per finished attempt, with no
//! attempt wasted; and a list nobody takes over is moved back to the
//! stream.

use crate::common;

use std::time::Duration;

use common::TestEnv;
use common::controls::eventually;
use common::receiver::{Receiver, Reply};
use switchyard_core::ids::ConnectionId;
use switchyard_delivery_model::queue::DeliveryJob;

impl TestEnv {
    async fn waiting_len(&self, connection: ConnectionId) -> usize {
        redis::cmd("LLEN")
            .arg(self.keys.waiting_list(&connection.to_string()))
            .query_async(&mut self.redis_connection().await)
            .await
            .expect("llen")
    }

    async fn waiting_set(&self) -> Vec<String> {
        redis::cmd("SMEMBERS")
            .arg(&self.keys.waiting)
            .query_async(&mut self.redis_connection().await)
            .await
            .expect("smembers")
    }

    async fn delayed_len(&self) -> usize {
        redis::cmd("ZCARD")
            .arg(&self.keys.delayed)
            .query_async(&mut self.redis_connection().await)
            .await
            .expect("zcard")
    }
}

fn no_breaker(timeout_ms: u64) -> serde_json::Value {
    serde_json::json!({
        "request_timeout_ms": timeout_ms,
        "circuit_breaker": { "failure_threshold": 0 }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hanging_destinations_backlog_waits_in_its_own_list() {
    let env = TestEnv::new().await;
    let hanging = Receiver::start(vec![Reply::slow(204, Duration::from_secs(30))]).await;
    let healthy = Receiver::start(vec![Reply::status(204)]).await;
    let (stuck, _) = env
        .connection_with_policy(&hanging.url, no_breaker(3000))
        .await;
    let (fine, _) = env
        .connection_with_policy(&healthy.url, serde_json::json!({}))
        .await;
    let stuck_deliveries = env.deliveries_to(stuck, 12).await;
    let fine_deliveries = env.deliveries_to(fine, 20).await;
    let mut config = env.config();
    config.delivery.max_in_flight = 8;
    config.delivery.max_in_flight_per_connection = 2;
    let app = env.start(&config).await;
    for delivery in &stuck_deliveries {
        env.enqueue_for(stuck, *delivery).await;
    }
    for delivery in &fine_deliveries {
        env.enqueue_for(fine, *delivery).await;
    }

    env.wait_for_all(&fine_deliveries, "succeeded").await;
    assert_eq!(healthy.count(), 20);
    // Two requests hang; the other ten jobs wait in the list without a claim, an attempt or a trip through the delayed set.
    eventually("ten jobs set aside", || async {
        env.waiting_len(stuck).await == 10
    })
    .await;
    assert_eq!(hanging.count(), 2);
    assert_eq!(env.waiting_set().await, vec![stuck.to_string()]);
    assert_eq!(env.delayed_len().await, 0);
    let untouched = {
        let mut untouched = 0;
        for delivery in &stuck_deliveries {
            if env.delivery_state(*delivery).await.attempt_count == 0 {
                untouched += 1;
            }
        }
        untouched
    };
    assert!(untouched >= 10, "{untouched} deliveries without an attempt");
    let waiting: Vec<String> = redis::cmd("LRANGE")
        .arg(env.keys.waiting_list(&stuck.to_string()))
        .arg(0)
        .arg(-1)
        .query_async(&mut env.redis_connection().await)
        .await
        .expect("lrange");
    let mut waiting_ids: Vec<String> = waiting
        .iter()
        .map(|job| {
            serde_json::from_str::<DeliveryJob>(job)
                .expect("a job")
                .delivery_id
        })
        .collect();
    // The list holds exactly the deliveries whose requests are not hanging.
    let hanging_ids: Vec<String> = hanging
        .requests()
        .iter()
        .map(|request| request.webhook_id())
        .collect();
    waiting_ids.extend(hanging_ids);
    waiting_ids.sort();
    let mut expected: Vec<String> = stuck_deliveries.iter().map(|d| d.to_string()).collect();
    expected.sort();
    assert_eq!(waiting_ids, expected);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_destinations_backlog_is_taken_over_without_wasted_attempts() {
    let env = TestEnv::new().await;
    let slow = Receiver::start(vec![Reply::slow(204, Duration::from_millis(150))]).await;
    let (connection, _) = env
        .connection_with_policy(&slow.url, no_breaker(2000))
        .await;
    let deliveries = env.deliveries_to(connection, 24).await;
    let mut config = env.config();
    config.delivery.max_in_flight = 16;
    config.delivery.max_in_flight_per_connection = 2;
    let app = env.start(&config).await;
    for delivery in &deliveries {
        env.enqueue_for(connection, *delivery).await;
    }

    env.wait_for_all(&deliveries, "succeeded").await;
    assert_eq!(slow.count(), 24);
    assert!(slow.max_in_flight() <= 2, "{}", slow.max_in_flight());
    // One attempt each: a set-aside job was never claimed and released.
    assert_eq!(env.attempt_count(&deliveries).await, 24);
    let mut arrived: Vec<String> = slow
        .requests()
        .iter()
        .map(|request| request.webhook_id())
        .collect();
    arrived.sort();
    arrived.dedup();
    assert_eq!(arrived.len(), 24, "each delivery sent once");
    eventually("the list is gone", || async {
        env.waiting_len(connection).await == 0 && env.waiting_set().await.is_empty()
    })
    .await;
    assert_eq!(env.delayed_len().await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_list_nobody_takes_over_goes_back_to_the_stream() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(204)]).await;
    let (connection, _) = env
        .connection_with_policy(&receiver.url, serde_json::json!({}))
        .await;
    let deliveries = env.deliveries_to(connection, 5).await;
    // Jobs set aside by a replica that died before its attempts ended.
    let mut redis = env.redis_connection().await;
    for delivery in &deliveries {
        let job = DeliveryJob::new(env.workspace.to_string(), delivery.to_string())
            .with_connection(Some(connection.to_string()))
            .to_json();
        let _: () = redis::pipe()
            .cmd("RPUSH")
            .arg(env.keys.waiting_list(&connection.to_string()))
            .arg(job)
            .cmd("SADD")
            .arg(&env.keys.waiting)
            .arg(connection.to_string())
            .query_async(&mut redis)
            .await
            .expect("set aside");
    }
    let app = env.start(&env.config()).await;

    env.wait_for_all(&deliveries, "succeeded").await;
    let mut arrived: Vec<String> = receiver
        .requests()
        .iter()
        .map(|request| request.webhook_id())
        .collect();
    arrived.sort();
    let mut expected: Vec<String> = deliveries.iter().map(|d| d.to_string()).collect();
    expected.sort();
    assert_eq!(arrived, expected, "each delivered once");
    assert!(env.waiting_set().await.is_empty());
    app.stop().await;
}
