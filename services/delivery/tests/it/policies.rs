//! Per-connection retry policies, the outcome classifier and timeouts,
//! against a real receiver: exponential backoff, permanent client errors,
//! 410 Gone, `Retry-After` as an HTTP date, a connection's own timeout,
//! and `https_only`.

use crate::common;

use std::time::{Duration, SystemTime};

use common::TestEnv;
use common::controls::eventually;
use common::receiver::{Receiver, Reply};

fn exponential(initial_ms: u64, factor: f64, cap_ms: u64, max_attempts: u32) -> serde_json::Value {
    serde_json::json!({
        "retry": {
            "kind": "exponential", "initial_ms": initial_ms, "factor": factor,
            "cap_ms": cap_ms, "max_attempts": max_attempts
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exponential_backoff_grows_the_gaps_and_stops_at_max_attempts() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(503)]).await;
    let (connection, _) = env
        .connection_with_policy(&receiver.url, exponential(100, 3.0, 1_000, 4))
        .await;
    let delivery = env.deliveries_to(connection, 1).await[0];
    let app = env.start(&env.config()).await;
    env.enqueue(delivery).await;

    let state = env.wait_for_status(delivery, "dead").await;
    assert_eq!(state.attempt_count, 4);
    assert_eq!(state.last_error, "HTTP 503");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 4);
    let gaps: Vec<Duration> = requests.windows(2).map(|w| w[1].at - w[0].at).collect();
    // About 100 ms, 300 ms, then 900 ms (±20 %, plus the scheduler's tick).
    assert!(gaps[2] > gaps[0] * 2, "gaps should grow: {gaps:?}");
    assert!(gaps[2] >= Duration::from_millis(700), "{gaps:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_errors_are_final_only_when_the_policy_says_so() {
    let env = TestEnv::new().await;
    let lenient_receiver = Receiver::start(vec![Reply::status(400)]).await;
    let strict_receiver = Receiver::start(vec![Reply::status(400)]).await;
    let (lenient, _) = env
        .connection_with_policy(&lenient_receiver.url, serde_json::json!({}))
        .await;
    let (strict, _) = env
        .connection_with_policy(
            &strict_receiver.url,
            serde_json::json!({ "permanent_client_errors": true }),
        )
        .await;
    let retried = env.deliveries_to(lenient, 1).await[0];
    let failed = env.deliveries_to(strict, 1).await[0];
    let app = env.start(&env.config()).await;
    env.enqueue_all(&[retried, failed]).await;

    let state = env.wait_for_status(failed, "dead").await;
    assert_eq!(
        (state.attempt_count, state.last_error.as_str()),
        (1, "HTTP 400")
    );
    let state = env.wait_for_status(retried, "dead").await;
    assert_eq!(state.attempt_count, 3, "the default policy retries a 400");
    assert_eq!(strict_receiver.count(), 1);
    assert_eq!(lenient_receiver.count(), 3);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gone_kills_the_delivery_and_disables_the_connection() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(410)]).await;
    let (connection, _) = env
        .connection_with_policy(&receiver.url, serde_json::json!({}))
        .await;
    let deliveries = env.deliveries_to(connection, 2).await;
    let app = env.start(&env.config()).await;
    env.enqueue(deliveries[0]).await;

    let state = env.wait_for_status(deliveries[0], "dead").await;
    assert_eq!(state.attempt_count, 1);
    assert!(
        state.last_error.starts_with("HTTP 410"),
        "{}",
        state.last_error
    );
    // The engine records the dead delivery, then disables the connection.
    eventually("the connection is disabled", || async {
        env.connection_state(connection).await.0 == "disabled"
    })
    .await;
    let (_, reason) = env.connection_state(connection).await;
    assert!(reason.contains("410"), "{reason}");

    // Later deliveries to the disabled connection die without a request.
    env.enqueue(deliveries[1]).await;
    let state = env.wait_for_status(deliveries[1], "dead").await;
    assert_eq!(state.last_error, "connection disabled");
    assert_eq!(receiver.count(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_after_as_an_http_date_postpones_the_retry() {
    let env = TestEnv::new().await;
    // Far enough ahead that a slow start on a busy machine still leaves
    // most of it to wait.
    let in_four_seconds = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(4));
    let receiver = Receiver::start(vec![
        Reply::retry_after(503, in_four_seconds),
        Reply::status(204),
    ])
    .await;
    let (connection, _) = env
        .connection_with_policy(&receiver.url, exponential(100, 2.0, 5_000, 3))
        .await;
    let delivery = env.deliveries_to(connection, 1).await[0];
    let app = env.start(&env.config()).await;
    env.enqueue(delivery).await;

    let state = env.wait_for_status(delivery, "succeeded").await;
    assert_eq!(state.attempt_count, 2);
    let requests = receiver.requests();
    let gap = requests[1].at - requests[0].at;
    // The date has one-second precision; the policy alone would wait ~100 ms.
    assert!(gap >= Duration::from_millis(900), "{gap:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connection_timeout_overrides_the_configured_one() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::slow(204, Duration::from_millis(1500))]).await;
    let mut policy = exponential(100, 2.0, 1_000, 1);
    policy["request_timeout_ms"] = serde_json::json!(300);
    let (connection, _) = env.connection_with_policy(&receiver.url, policy).await;
    let delivery = env.deliveries_to(connection, 1).await[0];
    let app = env.start(&env.config()).await;
    env.enqueue(delivery).await;

    let state = env.wait_for_status(delivery, "dead").await;
    assert_eq!(state.last_error, "timed out after 300ms");
    assert_eq!(receiver.count(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn https_only_refuses_plain_http_destinations() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(204)]).await;
    let seeded = env.seed(&receiver.url).await;
    let mut config = env.config();
    config.https_only = true;
    config.delivery.retry_schedule = vec![Duration::ZERO];
    let app = env.start(&config).await;
    env.enqueue(seeded.delivery).await;

    let state = env.wait_for_status(seeded.delivery, "dead").await;
    assert!(
        state.last_error.starts_with("destination refused")
            && state.last_error.contains("https_only"),
        "{}",
        state.last_error
    );
    assert_eq!(receiver.count(), 0);
    app.stop().await;
}
