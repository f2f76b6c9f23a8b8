//! Recovery: jobs lost before they reached Redis, a stream deleted under a
//! running consumer, and a consumer that died holding a job.

mod common;

use std::time::Duration;

use common::TestEnv;
use common::receiver::{Receiver, Reply};
use switchyard_core::queue::CONSUMER_GROUP;

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
    let mut redis = env.redis_connection().await;
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&env.keys.stream)
        .arg(CONSUMER_GROUP)
        .arg("0")
        .arg("MKSTREAM")
        .query_async(&mut redis)
        .await
        .expect("create group");
    env.enqueue(seeded.delivery).await;
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(CONSUMER_GROUP)
        .arg("ghost")
        .arg("COUNT")
        .arg(1)
        .arg("STREAMS")
        .arg(&env.keys.stream)
        .arg(">")
        .query_async(&mut redis)
        .await
        .expect("ghost read");
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
    let job = switchyard_core::queue::DeliveryJob::new(
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
