//! Pausing a connection: its deliveries accumulate (not attempted, not
//! counted, left alone by the sweeper) while other connections carry on;
//! on resume they are re-enqueued from Postgres and drain in order of
//! creation. The router's PauseConnection/ResumeConnection do the same
//! (state column, then `RequeueConnection`, which runs
//! `switchyard_delivery::requeue`); here the state is set
//! directly so the engine is tested alone.

use crate::common;

use std::time::Duration;

use common::TestEnv;
use common::controls::inversions;
use common::receiver::{Receiver, Reply};
use switchyard_delivery::requeue::{self, Scope};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paused_connection_accumulates_then_drains_in_creation_order() {
    let env = TestEnv::new().await;
    let paused_receiver = Receiver::start(vec![Reply::slow(204, Duration::from_millis(40))]).await;
    let other_receiver = Receiver::start(vec![Reply::status(204)]).await;
    let (paused, _) = env
        .connection_with_policy(&paused_receiver.url, serde_json::json!({}))
        .await;
    let (other, _) = env
        .connection_with_policy(&other_receiver.url, serde_json::json!({}))
        .await;
    env.set_connection_state(paused, "paused").await;
    let held = env.deliveries_to(paused, 24).await;
    let flowing = env.deliveries_to(other, 3).await;
    let mut config = env.config();
    // A sweeper grace of 2 s, so it would have re-queued them by the end.
    config.delivery.request_timeout = Duration::from_millis(500);
    config.delivery.visibility_timeout = Duration::from_secs(1);
    // At most four in flight: a backlog drains through a window of four.
    config.delivery.max_in_flight = 4;
    let app = env.start(&config).await;
    env.enqueue_all(&held).await;
    env.enqueue_all(&flowing).await;

    env.wait_for_all(&flowing, "succeeded").await;
    env.wait_for_drained_stream().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(paused_receiver.count(), 0, "nothing is sent while paused");
    for delivery in &held {
        let state = env.delivery_state(*delivery).await;
        assert_eq!((state.status.as_str(), state.attempt_count), ("pending", 0));
    }
    assert_eq!(env.attempt_count(&held).await, 0);

    env.set_connection_state(paused, "active").await;
    let redis = switchyard_core::redis_conn::Target::Single(env.redis.url.clone())
        .connect()
        .await
        .expect("redis");
    let scope = Scope::Connection {
        workspace: env.workspace,
        connection: paused,
    };
    let requeued = requeue::requeue(
        &env.pool,
        &switchyard_delivery_model::queue::Producer::new(
            redis,
            switchyard_delivery_model::queue::QueueLayout::new(&env.redis.prefix, 1),
        ),
        scope,
    )
    .await
    .expect("requeue");
    assert_eq!(requeued, 24);

    env.wait_for_all(&held, "succeeded").await;
    let arrived: Vec<String> = paused_receiver
        .requests()
        .iter()
        .map(|request| request.webhook_id())
        .collect();
    assert_eq!(arrived.len(), 24, "each delivered once");
    // Jobs go out in creation order; requests in flight together (the
    // window of four) may arrive in any order, but nothing overtakes a
    // delivery created two windows earlier.
    let overtaken = inversions(&held, &arrived, 8);
    assert_eq!(overtaken, 0, "arrival order {arrived:?}");
    app.stop().await;
}
