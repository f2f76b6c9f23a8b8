//! Per-key ordering: deliveries with the same ordering key to an ordered
//! connection reach it one at a time, in event order — through random
//! failures and retries, across two delivery processes and the crash of
//! one — while other keys go in parallel; a dead letter blocks its key or
//! is skipped as the connection says; and a delivery waits for earlier
//! events still being routed.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::TestEnv;
use common::controls::eventually;
use common::receiver::{Receiver, Reply};
use switchyard_core::ids::{ConnectionId, DeliveryId, EventId};

const KEYS: usize = 3;
const PER_KEY: usize = 50;

impl TestEnv {
    /// An event `{"key": key, "n": n}` and its pending delivery to
    /// `connection` with ordering key `key`.
    async fn keyed_delivery(
        &self,
        connection: ConnectionId,
        key: &str,
        n: usize,
    ) -> (EventId, DeliveryId) {
        let event = self
            .insert_event(&serde_json::json!({ "key": key, "n": n }))
            .await;
        let delivery = self.insert_delivery(event, connection).await;
        self.execute(
            "UPDATE deliveries SET ordering_key = $2 WHERE id = $1",
            &[&delivery.as_uuid(), &key],
        )
        .await;
        (event, delivery)
    }
}

/// `(key, n)` of each request, in arrival order.
fn sequence(receiver: &Receiver) -> Vec<(String, u64)> {
    receiver
        .requests()
        .iter()
        .map(|request| {
            let body: serde_json::Value = serde_json::from_slice(&request.body).expect("json body");
            (
                body["key"].as_str().expect("key").to_string(),
                body["n"].as_u64().expect("n"),
            )
        })
        .collect()
}

/// A fixed, scattered pattern of failures: about one request in four of
/// the first 400 answers 500.
fn flaky_script() -> Vec<Reply> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut script: Vec<Reply> = (0..400)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            Reply::status(if state.is_multiple_of(4) { 500 } else { 204 })
        })
        .collect();
    script.push(Reply::status(204));
    script
}

fn ordered_policy(dead_letter: &str) -> serde_json::Value {
    serde_json::json!({
        "ordering": { "dead_letter": dead_letter },
        "retry": { "kind": "exponential", "initial_ms": 20, "factor": 1.5, "cap_ms": 200, "max_attempts": 40 },
        "circuit_breaker": { "failure_threshold": 0 }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_key_arrives_in_event_order_across_two_processes_and_a_crash() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(flaky_script()).await;
    let (connection, _) = env
        .connection_with_policy(&receiver.url, ordered_policy("block"))
        .await;
    let mut deliveries = Vec::new();
    for n in 0..PER_KEY {
        for key in 0..KEYS {
            let (_, delivery) = env.keyed_delivery(connection, &format!("k{key}"), n).await;
            deliveries.push(delivery);
        }
    }
    // Every delivery gets its job at once, newest first, as if routed out
    // of order: only the heads may go.
    for delivery in deliveries.iter().rev() {
        env.enqueue_for(connection, *delivery).await;
    }
    let mut config = env.config();
    config.delivery.max_in_flight_per_connection = 8;
    config.delivery.request_timeout = Duration::from_secs(1);
    config.delivery.visibility_timeout = Duration::from_secs(2);
    let doomed = env.start_killable(&config);
    let survivor = env.start(&config).await;

    eventually("a third of the requests", || async {
        receiver.count() >= 50
    })
    .await;
    doomed.kill();

    env.wait_for_all(&deliveries, "succeeded").await;
    survivor.stop().await;

    let mut per_key: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (key, n) in sequence(&receiver) {
        per_key.entry(key).or_default().push(n);
    }
    assert_eq!(per_key.len(), KEYS);
    for (key, seen) in &per_key {
        assert!(
            seen.windows(2).all(|pair| pair[0] <= pair[1]),
            "{key} arrived out of order: {seen:?}"
        );
        let mut distinct = seen.clone();
        distinct.dedup();
        assert_eq!(
            distinct,
            (0..PER_KEY as u64).collect::<Vec<_>>(),
            "{key} missed events"
        );
    }
    // Failures were retried (some requests repeat) and keys overlapped in
    // time: the connection ran more than one request at once.
    assert!(receiver.count() > KEYS * PER_KEY, "no failure was retried");
    assert!(receiver.max_in_flight() > 1, "keys never went in parallel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_letter_blocks_its_key_until_replayed() {
    let env = TestEnv::new().await;
    // The first request fails for good (a 400 with permanent client errors).
    let receiver = Receiver::start(vec![Reply::status(400), Reply::status(204)]).await;
    let mut policy = ordered_policy("block");
    policy["permanent_client_errors"] = serde_json::json!(true);
    let (connection, _) = env.connection_with_policy(&receiver.url, policy).await;
    let mut chain = Vec::new();
    for n in 0..3 {
        chain.push(env.keyed_delivery(connection, "acct-1", n).await.1);
    }
    let (_, other_key) = env.keyed_delivery(connection, "acct-2", 0).await;
    for delivery in &chain {
        env.enqueue_for(connection, *delivery).await;
    }
    let app = env.start(&env.config()).await;

    env.wait_for_status(chain[0], "dead").await;
    // Another key is not held back by it.
    env.enqueue_for(connection, other_key).await;
    env.wait_for_status(other_key, "succeeded").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.delivery_state(chain[1]).await.status, "pending");
    assert_eq!(env.delivery_state(chain[2]).await.status, "pending");
    assert_eq!(receiver.count(), 2, "only the dead head and the other key");

    // Replayed, the head goes, then the rest in order.
    env.execute(
        "UPDATE deliveries SET status = 'pending', next_attempt_at = now(), next_trigger = 'replay' \
         WHERE id = $1",
        &[&chain[0].as_uuid()],
    )
    .await;
    env.enqueue_for(connection, chain[0]).await;
    env.wait_for_all(&chain, "succeeded").await;
    app.stop().await;
    let acct_1: Vec<u64> = sequence(&receiver)
        .into_iter()
        .filter(|(key, _)| key == "acct-1")
        .map(|(_, n)| n)
        .collect();
    assert_eq!(acct_1, vec![0, 0, 1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_letter_is_skipped_when_the_connection_says_so() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(400), Reply::status(204)]).await;
    let mut policy = ordered_policy("skip");
    policy["permanent_client_errors"] = serde_json::json!(true);
    let (connection, _) = env.connection_with_policy(&receiver.url, policy).await;
    let mut chain = Vec::new();
    for n in 0..3 {
        chain.push(env.keyed_delivery(connection, "acct-1", n).await.1);
    }
    for delivery in &chain {
        env.enqueue_for(connection, *delivery).await;
    }
    let app = env.start(&env.config()).await;
    env.wait_for_status(chain[0], "dead").await;
    env.wait_for_all(&chain[1..], "succeeded").await;
    app.stop().await;
    let seen: Vec<u64> = sequence(&receiver).into_iter().map(|(_, n)| n).collect();
    assert_eq!(seen, vec![0, 1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_keyed_delivery_waits_for_earlier_events_being_routed() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(204)]).await;
    let (connection, _) = env
        .connection_with_policy(&receiver.url, ordered_policy("block"))
        .await;
    // An earlier event of the workspace not routed yet: its deliveries
    // could come ahead of this one.
    let earlier = env
        .insert_event(&serde_json::json!({ "key": "x", "n": 0 }))
        .await;
    env.execute(
        "INSERT INTO events_unrouted (event_id, workspace_id) VALUES ($1, $2)",
        &[&earlier.as_uuid(), &env.workspace.as_uuid()],
    )
    .await;
    let (_, delivery) = env.keyed_delivery(connection, "acct-1", 1).await;
    env.enqueue_for(connection, delivery).await;
    let app = env.start(&env.config()).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        receiver.count(),
        0,
        "sent before the earlier event was routed"
    );
    assert_eq!(env.delivery_state(delivery).await.attempt_count, 0);

    env.execute(
        "DELETE FROM events_unrouted WHERE event_id = $1",
        &[&earlier.as_uuid()],
    )
    .await;
    env.wait_for_status(delivery, "succeeded").await;
    app.stop().await;
    assert_eq!(receiver.count(), 1);
}
