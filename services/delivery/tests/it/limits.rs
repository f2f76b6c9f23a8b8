//! Shared per-connection limits against real receivers: the rate limit
//! and the concurrency cap (across two replicas) hold jobs back without
//! spending attempts; the circuit breaker opens, lets one probe through
//! after its cooldown, and closes; a destination that hangs never delays
//! the others.

use crate::common;

use std::time::Duration;

use common::TestEnv;
use common::controls::eventually;
use common::receiver::{Receiver, Reply};
use switchyard_delivery::limits::BreakerState;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rate_limit_paces_deliveries_without_spending_attempts() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(204)]).await;
    let policy = serde_json::json!({ "rate_limit": { "count": 5, "period_ms": 1000 } });
    let (connection, _) = env.connection_with_policy(&receiver.url, policy).await;
    let deliveries = env.deliveries_to(connection, 15).await;
    let app = env.start(&env.config()).await;
    env.enqueue_all(&deliveries).await;

    env.wait_for_all(&deliveries, "succeeded").await;
    for delivery in &deliveries {
        assert_eq!(env.delivery_state(*delivery).await.attempt_count, 1);
    }
    assert_eq!(
        env.attempt_count(&deliveries).await,
        15,
        "held jobs are not attempts"
    );
    let requests = receiver.requests();
    assert_eq!(requests.len(), 15);
    // A burst of 5, then one every 200 ms: the last comes ~2 s after the first.
    let first = requests[0].at;
    let span = requests[14].at - first;
    assert!(span >= Duration::from_millis(1500), "{span:?}");
    let early = requests
        .iter()
        .filter(|r| r.at - first < Duration::from_millis(500))
        .count();
    assert!(early <= 7, "{early} requests in the first half second");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_concurrency_cap_holds_across_replicas() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::slow(204, Duration::from_millis(250))]).await;
    let policy = serde_json::json!({ "max_concurrency": 2 });
    let (connection, _) = env.connection_with_policy(&receiver.url, policy).await;
    let deliveries = env.deliveries_to(connection, 10).await;
    let first = env.start(&env.config()).await;
    let second = env.start(&env.config()).await;
    env.enqueue_all(&deliveries).await;

    env.wait_for_all(&deliveries, "succeeded").await;
    assert_eq!(receiver.count(), 10);
    assert_eq!(receiver.max_in_flight(), 2, "two replicas, one shared cap");
    assert_eq!(env.attempt_count(&deliveries).await, 10);
    first.stop().await;
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_breaker_opens_lets_one_probe_through_and_closes() {
    let env = TestEnv::new().await;
    // Three failures open it; the first probe fails too; the second closes it.
    let receiver = Receiver::start(vec![
        Reply::status(500),
        Reply::status(500),
        Reply::status(500),
        Reply::status(500),
        Reply::status(204),
    ])
    .await;
    let policy = serde_json::json!({
        "retry": { "kind": "exponential", "initial_ms": 100, "factor": 1.0, "cap_ms": 100, "max_attempts": 20 },
        "max_concurrency": 1,
        "circuit_breaker": { "failure_threshold": 3, "cooldown_ms": 1000 }
    });
    let (connection, _) = env.connection_with_policy(&receiver.url, policy).await;
    let deliveries = env.deliveries_to(connection, 6).await;
    let app = env.start(&env.config()).await;
    env.enqueue_all(&deliveries).await;

    receiver.wait_for(3).await;
    eventually("the breaker opens", || async {
        env.breaker(connection).await.state == BreakerState::Open
    })
    .await;
    let open = env.breaker(connection).await;
    assert!(open.failure_streak >= 3, "{open:?}");
    assert_eq!(open.last_error, "HTTP 500");
    assert!(open.opened_at.is_some());

    env.wait_for_all(&deliveries, "succeeded").await;
    let requests = receiver.requests();
    // 4 failures (3, then the failed probe) and one success per delivery:
    // nothing was sent while the breaker was open.
    assert_eq!(requests.len(), 4 + deliveries.len());
    let cooldown = Duration::from_millis(800);
    assert!(
        requests[3].at - requests[2].at >= cooldown,
        "the first probe waited"
    );
    assert!(
        requests[4].at - requests[3].at >= cooldown,
        "the second probe waited"
    );
    assert_eq!(env.attempt_count(&deliveries).await, 10);
    let closed = env.breaker(connection).await;
    assert_eq!(
        (closed.state, closed.failure_streak),
        (BreakerState::Closed, 0)
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hanging_destination_never_delays_the_others() {
    let env = TestEnv::new().await;
    let hanging = Receiver::start(vec![Reply::slow(204, Duration::from_secs(30))]).await;
    let healthy_a = Receiver::start(vec![Reply::status(204)]).await;
    let healthy_b = Receiver::start(vec![Reply::status(204)]).await;
    // No breaker, so only the caps keep the hanging destination in its lane.
    let hanging_policy = serde_json::json!({
        "request_timeout_ms": 3000,
        "circuit_breaker": { "failure_threshold": 0 }
    });
    let (stuck, _) = env
        .connection_with_policy(&hanging.url, hanging_policy)
        .await;
    let (a, _) = env
        .connection_with_policy(&healthy_a.url, serde_json::json!({}))
        .await;
    let (b, _) = env
        .connection_with_policy(&healthy_b.url, serde_json::json!({}))
        .await;
    let stuck_deliveries = env.deliveries_to(stuck, 20).await;
    let mut healthy = env.deliveries_to(a, 20).await;
    healthy.extend(env.deliveries_to(b, 20).await);
    let mut config = env.config();
    config.delivery.max_in_flight = 8;
    config.delivery.max_in_flight_per_connection = 2;
    let app = env.start(&config).await;
    // The hanging destination's jobs are first in line.
    env.enqueue_all(&stuck_deliveries).await;
    env.enqueue_all(&healthy).await;

    env.wait_for_all(&healthy, "succeeded").await;
    assert_eq!(healthy_a.count(), 20);
    assert_eq!(healthy_b.count(), 20);
    // Everything healthy went through while the first two requests to the
    // hanging destination were still waiting for their timeout.
    assert!(
        hanging.count() <= 2,
        "{} requests to the hanging receiver",
        hanging.count()
    );
    assert_eq!(env.attempt_count(&stuck_deliveries).await, 0);
    let waiting = stuck_deliveries.len();
    let mut untouched = 0;
    for delivery in &stuck_deliveries {
        if env.delivery_state(*delivery).await.attempt_count == 0 {
            untouched += 1;
        }
    }
    assert!(untouched >= waiting - 2, "held jobs spent no attempts");
    app.stop().await;
}
