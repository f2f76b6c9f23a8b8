//! A stopping delivery process (SIGTERM, a rolling restart): attempts still
//! running at the end of `delivery.shutdown_grace` are cut, their claims
//! released without spending an attempt, their jobs handed back to the
//! stream, and the consumer leaves the group; another replica then takes
//! the job at once. A consumer that died without a word is forgotten once
//! its jobs were reclaimed.

use crate::common;

use std::time::Duration;

use common::receiver::{Receiver, Reply};
use common::{PATIENCE, TestEnv};
use switchyard_delivery_model::queue::CONSUMER_GROUP;

/// The consumers of the delivery group, by name.
async fn consumers(env: &TestEnv) -> Vec<String> {
    let mut redis = env.redis_connection().await;
    let reply: Vec<std::collections::HashMap<String, redis::Value>> = redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(&env.keys.stream)
        .arg(CONSUMER_GROUP)
        .query_async(&mut redis)
        .await
        .expect("xinfo consumers");
    reply
        .iter()
        .filter_map(|consumer| match consumer.get("name") {
            Some(redis::Value::BulkString(name)) => {
                Some(String::from_utf8_lossy(name).into_owned())
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_attempt_past_the_shutdown_grace_is_cut_and_handed_back_at_once() {
    let env = TestEnv::new().await;
    // The first request hangs past the grace; the next one answers.
    let receiver = Receiver::start(vec![
        Reply::slow(200, Duration::from_secs(3)),
        Reply::status(200),
    ])
    .await;
    let seeded = env.seed(&receiver.url).await;
    let mut config = env.config();
    config.delivery.request_timeout = Duration::from_secs(4);
    config.delivery.visibility_timeout = Duration::from_secs(30);
    config.delivery.shutdown_grace = Duration::from_millis(300);
    let first = env.start(&config).await;
    env.enqueue(seeded.delivery).await;
    receiver.wait_for(1).await;
    assert_eq!(
        consumers(&env).await.len(),
        1,
        "the replica joined the group"
    );

    let stopping = tokio::time::Instant::now();
    first.stop().await;
    let took = stopping.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "stopped after the grace, not after the request: {took:?}"
    );

    // The claim is released (no attempt spent), the job is back in the
    // stream and read by no one, and the consumer left the group.
    let state = env.delivery_state(seeded.delivery).await;
    assert_eq!(state.status, "pending");
    assert_eq!(state.attempt_count, 0);
    assert!(env.attempts(seeded.delivery).await.is_empty());
    assert_eq!(env.unfinished_jobs().await, (1, 0));
    assert!(
        consumers(&env).await.is_empty(),
        "the consumer left the group"
    );

    // Another replica delivers it at once, not after the 30 s lease.
    let second_started = tokio::time::Instant::now();
    let second = env.start(&config).await;
    let state = env.wait_for_status(seeded.delivery, "succeeded").await;
    assert!(second_started.elapsed() < PATIENCE / 3);
    assert_eq!(state.attempt_count, 1);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2, "the cut request, then the delivery");
    // The cut request may have reached the receiver: the same webhook-id
    // lets it de-duplicate (the documented at-least-once window).
    assert_eq!(requests[0].webhook_id(), requests[1].webhook_id());
    assert_eq!(requests[0].webhook_id(), seeded.delivery.to_string());
    second.stop().await;
    env.wait_for_drained_stream().await;
    assert!(consumers(&env).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stop_within_the_grace_finishes_the_attempt_and_leaves_the_group() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::slow(200, Duration::from_millis(600))]).await;
    let seeded = env.seed(&receiver.url).await;
    let app = env.start(&env.config()).await;
    env.enqueue(seeded.delivery).await;
    receiver.wait_for(1).await;
    app.stop().await;

    let state = env.delivery_state(seeded.delivery).await;
    assert_eq!(state.status, "succeeded");
    assert_eq!(state.attempt_count, 1);
    assert_eq!(receiver.count(), 1);
    assert_eq!(env.unfinished_jobs().await, (0, 0));
    assert!(
        consumers(&env).await.is_empty(),
        "the consumer left the group"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_consumer_is_forgotten_once_its_jobs_are_reclaimed() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(200)]).await;
    let seeded = env.seed(&receiver.url).await;
    // A consumer that read the job and died without a word.
    env.read_and_abandon(seeded.delivery, "killed-consumer")
        .await;

    let mut config = env.config();
    config.delivery.request_timeout = Duration::from_secs(1);
    config.delivery.visibility_timeout = Duration::from_secs(2);
    let app = env.start(&config).await;
    // Reclaimed after the visibility timeout, then delivered once.
    let state = env.wait_for_status(seeded.delivery, "succeeded").await;
    assert_eq!(state.attempt_count, 1);
    assert_eq!(receiver.count(), 1);

    // Its name goes once it has been idle for twice the visibility
    // timeout with nothing pending; the live replica stays.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let names = consumers(&env).await;
        if !names.iter().any(|name| name == "killed-consumer") {
            assert_eq!(names.len(), 1, "the live replica stays: {names:?}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the killed consumer was never forgotten: {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.stop().await;
    assert!(consumers(&env).await.is_empty());
}
