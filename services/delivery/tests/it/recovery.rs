//! Recovery: jobs lost before they reached Redis, a stream deleted under a
//! running consumer, a consumer that died holding a job (or killed in the
//! middle of a request), and Redis losing all of its data.

use crate::common;

use std::time::Duration;

use common::TestEnv;
use common::receiver::{Receiver, Reply};
use switchyard_core::ids::DeliveryId;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sweeper_requeues_a_delivery_whose_job_was_never_written() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(200)]).await;
    let seeded = env.seed(&receiver.url).await;
    let mut config = env.config();
    // grace = 2 × visibility = 4 s
    config.delivery.request_timeout = Duration::from_secs(1);
    config.delivery.visibility_timeout = Duration::from_secs(2);
    let app = env.start(&config).await;

    // No XADD: only Postgres knows about this delivery.
    let state = env.wait_for_status(seeded.delivery, "succeeded").await;
    assert_eq!(state.attempt_count, 1);
    assert_eq!(receiver.requests().len(), 1);

    let client = env.pool.get().await.expect("client");
    let row = client
        .query_one(
            "SELECT requeued_at IS NOT NULL FROM deliveries WHERE id = $1",
            &[&seeded.delivery.as_uuid()],
        )
        .await
        .expect("row");
    assert!(
        row.get::<_, bool>(0),
        "the sweeper stamps what it re-queues"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_consumer_recreates_a_deleted_stream_and_keeps_delivering() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(200)]).await;
    let first = env.seed(&receiver.url).await;
    let app = env.start(&env.config()).await;
    env.enqueue(first.delivery).await;
    env.wait_for_status(first.delivery, "succeeded").await;

    // As after FLUSHALL or a Redis restart without persistence: the stream
    // and its consumer group are gone.
    let mut redis = env.redis_connection().await;
    let deleted: usize = redis::cmd("DEL")
        .arg(&env.keys.stream)
        .query_async(&mut redis)
        .await
        .expect("del");
    assert_eq!(deleted, 1);
    // Give the blocked read time to fail with NOGROUP before the next job.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let second = env.seed(&receiver.url).await;
    env.enqueue(second.delivery).await;
    env.wait_for_status(second.delivery, "succeeded").await;
    assert_eq!(receiver.requests().len(), 2);

    let groups: Vec<redis::Value> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(&env.keys.stream)
        .query_async(&mut redis)
        .await
        .expect("xinfo groups");
    assert_eq!(groups.len(), 1, "the consumer group exists again");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_abandoned_by_a_dead_consumer_is_reclaimed() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(200)]).await;
    let seeded = env.seed(&receiver.url).await;
    let mut config = env.config();
    config.delivery.request_timeout = Duration::from_secs(1);
    config.delivery.visibility_timeout = Duration::from_secs(2);

    // A consumer reads the job and dies before acknowledging it.
    env.read_and_abandon(seeded.delivery, "ghost").await;
    assert_eq!(env.unfinished_jobs().await, (1, 1));

    let app = env.start(&config).await;
    let state = env.wait_for_status(seeded.delivery, "succeeded").await;
    assert_eq!(state.attempt_count, 1);
    // The ghost's entry was taken over and acknowledged.
    env.wait_for_drained_stream().await;
    assert_eq!(receiver.requests().len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn due_retries_move_from_the_delayed_set_to_the_stream() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(200)]).await;
    let seeded = env.seed(&receiver.url).await;
    env.execute(
        "UPDATE deliveries SET status = 'retrying', attempt_count = 1 WHERE id = $1",
        &[&seeded.delivery.as_uuid()],
    )
    .await;
    let job = switchyard_delivery_model::queue::DeliveryJob::new(
        env.workspace.to_string(),
        seeded.delivery.to_string(),
    )
    .to_json();
    let mut redis = env.redis_connection().await;
    let due_ms = chrono::Utc::now().timestamp_millis();
    let _: usize = redis::cmd("ZADD")
        .arg(&env.keys.delayed)
        .arg(due_ms)
        .arg(&job)
        .query_async(&mut redis)
        .await
        .expect("zadd");

    let app = env.start(&env.config()).await;
    let state = env.wait_for_status(seeded.delivery, "succeeded").await;
    assert_eq!(state.attempt_count, 2);
    let parked: usize = redis::cmd("ZCARD")
        .arg(&env.keys.delayed)
        .query_async(&mut redis)
        .await
        .expect("zcard");
    assert_eq!(parked, 0);
    assert_eq!(receiver.requests().len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_consumer_killed_mid_request_is_taken_over_with_the_same_webhook_id() {
    let env = TestEnv::new().await;
    // The first request hangs (its sender dies meanwhile); the next succeeds.
    let receiver = Receiver::start(vec![
        Reply::slow(204, Duration::from_secs(20)),
        Reply::status(204),
    ])
    .await;
    let seeded = env.seed(&receiver.url).await;
    let mut config = env.config();
    config.delivery.request_timeout = Duration::from_secs(1);
    config.delivery.visibility_timeout = Duration::from_secs(2);

    let doomed = env.start_killable(&config);
    env.enqueue(seeded.delivery).await;
    receiver.wait_for(1).await;
    doomed.kill();
    let state = env.delivery_state(seeded.delivery).await;
    assert_eq!(
        (state.status.as_str(), state.attempt_count),
        ("delivering", 1)
    );

    let survivor = env.start(&config).await;
    let state = env.wait_for_status(seeded.delivery, "succeeded").await;
    assert_eq!(state.attempt_count, 2);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(request.webhook_id(), seeded.delivery.to_string());
    }
    // The killed attempt left no row; the takeover's is attempt 2.
    let attempts = env.attempts(seeded.delivery).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        (attempts[0].attempt, attempts[0].status_code),
        (2, Some(204))
    );
    env.wait_for_drained_stream().await;
    survivor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_losing_its_data_is_repaired_from_postgres_without_a_restart() {
    let env = TestEnv::new().await;
    let steady = Receiver::start(vec![Reply::status(204)]).await;
    let flaky = Receiver::start(vec![Reply::status(503), Reply::status(204)]).await;
    let (steady_connection, _) = env
        .connection_with_policy(&steady.url, serde_json::json!({}))
        .await;
    // A retry parked 3 s ahead in the delayed set when the data goes.
    let retry_later = serde_json::json!({
        "retry": { "kind": "exponential", "initial_ms": 3000, "factor": 1.0, "cap_ms": 3000, "max_attempts": 3 }
    });
    let (flaky_connection, _) = env.connection_with_policy(&flaky.url, retry_later).await;
    let mut config = env.config();
    // The sweeper would need 2 × 5 s: recovery must not wait for it.
    config.delivery.visibility_timeout = Duration::from_secs(5);
    let app = env.start(&config).await;

    let retried = env.deliveries_to(flaky_connection, 1).await;
    env.enqueue_all(&retried).await;
    env.wait_for_status(retried[0], "retrying").await;
    // Deliveries whose jobs were in the stream when it vanished: only
    // Postgres knows them.
    let pending = env.deliveries_to(steady_connection, 5).await;
    let started = tokio::time::Instant::now();
    assert!(
        env.lose_redis_data().await >= 2,
        "stream and delayed set existed"
    );

    let mut all: Vec<DeliveryId> = pending.clone();
    all.extend(&retried);
    env.wait_for_all(&all, "succeeded").await;
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "recovered before the sweeper's grace: {:?}",
        started.elapsed()
    );
    // Duplicates only as genuine redelivery: one request per recorded
    // attempt, each with its delivery's id.
    assert_eq!(steady.count(), 5);
    assert_eq!(env.attempt_count(&pending).await, 5);
    let flaky_ids: Vec<String> = flaky.requests().iter().map(|r| r.webhook_id()).collect();
    assert_eq!(flaky_ids, vec![retried[0].to_string(); 2]);
    assert_eq!(env.attempt_count(&retried).await, 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_whose_delivery_row_was_lost_is_dropped_without_a_request() {
    // The router commits its deliveries without waiting for the WAL flush,
    // so a Postgres crash can lose a delivery whose job is already on the
    // stream (the ingest outbox routes the event again). Such a job must
    // be acknowledged and send nothing.
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(200)]).await;
    let seeded = env.seed(&receiver.url).await;
    let app = env.start(&env.config()).await;

    let lost = DeliveryId::generate();
    env.enqueue(lost).await;
    env.enqueue(seeded.delivery).await;
    env.wait_for_status(seeded.delivery, "succeeded").await;
    env.wait_for_drained_stream().await;

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1, "only the stored delivery is sent");
    let client = env.pool.get().await.expect("client");
    let rows = client
        .query_one(
            "SELECT count(*) FILTER (WHERE delivery_id = $1), count(*) FROM delivery_attempts",
            &[&lost.as_uuid()],
        )
        .await
        .expect("attempts");
    assert_eq!(
        rows.get::<_, i64>(0),
        0,
        "no attempt recorded for the lost delivery"
    );
    assert_eq!(rows.get::<_, i64>(1), 1);
    app.stop().await;
}
