//! RabbitMQ against the machine's broker: the message arrives persistent,
//! with its body and id (its `traceparent` is checked end to end, with a
//! tracer, in `tests/tests/broker_trace.rs`), only after the broker's confirm;
//! the broker's refusals (no route, no exchange) fail attempts with its
//! reason without moving the breaker; the broker going away mid-run opens
//! the breaker, and once it is back every delivery arrives; a rejected
//! password holds the connection for new credentials, and a broker host
//! outside the allowed networks is refused at connect time.

use std::collections::BTreeSet;

use serde_json::json;
use switchyard_delivery::limits::BreakerState;
use switchyard_tenancy::secrets::SecretField;

use crate::common::TestEnv;
use crate::common::brokers::{RabbitQueue, TcpProxy, amqp_header, amqp_url, unique};
use crate::common::controls::eventually;

fn config(url: &str, routing_key: &str, routed_by_mapping: bool) -> serde_json::Value {
    json!({"url": url, "username": "guest", "exchange": "amq.topic",
           "routing_key": routing_key, "routed_by_mapping": routed_by_mapping})
}

async fn connection(
    env: &TestEnv,
    config: serde_json::Value,
) -> switchyard_core::ids::ConnectionId {
    env.insert_broker_connection(
        "rabbitmq",
        config,
        Some((SecretField::Password, "guest")),
        json!({}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_persistent_confirmed_messages_with_their_id() {
    let env = TestEnv::new().await;
    let key = unique("sytest.lead.");
    let queue = RabbitQueue::bind(&key).await;
    let plain = connection(&env, config(&amqp_url(), &key, false)).await;
    let routed_key = unique("sytest.routed.");
    let routed_queue = RabbitQueue::bind(&routed_key).await;
    let routed = connection(&env, config(&amqp_url(), "unused", true)).await;
    let app = env.start(&env.config()).await;

    let payload = json!({"id": "lead_1", "email": "ada@example.com"});
    let delivery = env.deliver_to(plain, &payload).await;
    env.wait_for_status(delivery, "succeeded").await;
    let messages = queue.wait_for(1).await;
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&message.data).ok(),
        Some(payload)
    );
    let properties = &message.properties;
    assert_eq!(
        properties.message_id().as_ref().map(|id| id.to_string()),
        Some(delivery.to_string())
    );
    assert_eq!(*properties.delivery_mode(), Some(2));
    assert_eq!(
        properties
            .content_type()
            .as_ref()
            .map(|t| t.to_string())
            .as_deref(),
        Some("application/json")
    );
    let attempts = env.attempts(delivery).await;
    assert_eq!(attempts[0].status_code, Some(200));
    assert_eq!(
        attempts[0].url,
        format!("{}/%2F/amq.topic/{key}", amqp_url())
    );
    assert_eq!(
        env.attempt_details(delivery).await,
        [
            json!({"kind": "rabbitmq", "confirm": "ack", "exchange": "amq.topic", "routing_key": key})
        ]
    );

    // The mapping's envelope picks the routing key and adds headers.
    let envelope = json!({"routing_key": routed_key, "headers": {"x-region": "eu"},
                          "body": {"id": "lead_2"}});
    let delivery = env.deliver_to(routed, &envelope).await;
    env.wait_for_status(delivery, "succeeded").await;
    let messages = routed_queue.wait_for(1).await;
    assert_eq!(messages[0].data, br#"{"id":"lead_2"}"#);
    assert_eq!(amqp_header(&messages[0], "x-region").as_deref(), Some("eu"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_fail_with_the_brokers_reason_and_leave_the_breaker_alone() {
    let env = TestEnv::new().await;
    let unroutable = connection(&env, config(&amqp_url(), &unique("sytest.nobody."), false)).await;
    let routed = connection(&env, config(&amqp_url(), "", true)).await;
    let key = unique("sytest.after.");
    let queue = RabbitQueue::bind(&key).await;
    let app = env.start(&env.config()).await;

    let delivery = env.deliver_to(unroutable, &json!({"id": "x"})).await;
    let state = env.wait_for_status(delivery, "dead").await;
    assert_eq!(state.attempt_count, 3, "retried by the schedule");
    assert!(
        state
            .last_error
            .starts_with("RabbitMQ 312: NO_ROUTE: the broker returned the message"),
        "{}",
        state.last_error
    );
    let attempts = env.attempts(delivery).await;
    assert!(attempts.iter().all(|a| a.status_code == Some(312)));
    let breaker = env.breaker(unroutable).await;
    assert_eq!(
        (breaker.state, breaker.failure_streak),
        (BreakerState::Closed, 0)
    );

    // A missing exchange closes the channel (404); the next publish on
    // the same connection gets a fresh one.
    let missing = unique("sytest-missing-");
    let lost = env
        .deliver_to(
            routed,
            &json!({"exchange": missing, "routing_key": "k", "body": 1}),
        )
        .await;
    let state = env.wait_for_status(lost, "dead").await;
    assert!(
        state.last_error.starts_with("RabbitMQ 404: NOT_FOUND")
            && state.last_error.contains(&missing),
        "{}",
        state.last_error
    );
    let after = env
        .deliver_to(
            routed,
            &json!({"exchange": "amq.topic", "routing_key": key, "body": 2}),
        )
        .await;
    env.wait_for_status(after, "succeeded").await;
    assert_eq!(queue.wait_for(1).await[0].data, b"2");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_going_away_mid_run_opens_the_breaker_and_loses_nothing() {
    let env = TestEnv::new().await;
    let upstream = amqp_url()
        .trim_start_matches("amqp://")
        .parse()
        .expect("the test broker's address as ip:port");
    let mut proxy = TcpProxy::start(upstream).await;
    let key = unique("sytest.outage.");
    let queue = RabbitQueue::bind(&key).await;
    let policy = json!({
        "retry": {"kind": "exponential", "initial_ms": 200, "factor": 1.0, "cap_ms": 200, "max_attempts": 200},
        "circuit_breaker": {"failure_threshold": 3, "cooldown_ms": 500}
    });
    let connection = env
        .insert_broker_connection(
            "rabbitmq",
            config(&format!("amqp://{}", proxy.addr), &key, false),
            Some((SecretField::Password, "guest")),
            policy,
        )
        .await;
    let app = env.start(&env.config()).await;

    let before = env.deliveries_to(connection, 20).await;
    env.enqueue_all(&before).await;
    env.wait_for_all(&before, "succeeded").await;

    proxy.cut().await;
    let during = env.deliveries_to(connection, 20).await;
    env.enqueue_all(&during).await;
    eventually("the breaker opens", || async {
        env.breaker(connection).await.state == BreakerState::Open
    })
    .await;
    let open = env.breaker(connection).await;
    assert!(open.failure_streak >= 3, "{open:?}");
    // The breaker opened on attempts that got no answer (some deliveries
    // may not have been tried at all: the open breaker holds them).
    let mut failed = Vec::new();
    for delivery in &during {
        failed.extend(env.attempts(*delivery).await);
    }
    assert!(
        !failed.is_empty()
            && failed
                .iter()
                .all(|a| a.status_code.is_none() && !a.error.is_empty()),
        "{failed:?}"
    );

    proxy.restore().await;
    env.wait_for_all(&during, "succeeded").await;
    let expected: BTreeSet<String> = before
        .iter()
        .chain(&during)
        .map(ToString::to_string)
        .collect();
    let messages = queue.wait_for(expected.len()).await;
    let arrived: BTreeSet<String> = messages
        .iter()
        .filter_map(|m| m.properties.message_id().as_ref().map(|id| id.to_string()))
        .collect();
    assert_eq!(arrived, expected, "every delivery arrived");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_password_holds_the_connection_and_private_hosts_are_refused() {
    let env = TestEnv::new().await;
    let key = unique("sytest.guarded.");
    let wrong = env
        .insert_broker_connection(
            "rabbitmq",
            config(&amqp_url(), &key, false),
            Some((SecretField::Password, "not-the-password")),
            json!({}),
        )
        .await;
    let guarded = connection(&env, config(&amqp_url(), &key, false)).await;
    let mut strict = env.config();
    let app = env.start(&env.config()).await;

    let delivery = env.deliver_to(wrong, &json!({"id": "x"})).await;
    eventually("the connection waits for new credentials", || async {
        env.connection_state(wrong).await.0 == "needs_credentials"
    })
    .await;
    let (_, reason) = env.connection_state(wrong).await;
    assert!(reason.starts_with("RabbitMQ 403: "), "{reason}");
    assert_eq!(env.attempts(delivery).await[0].status_code, Some(403));
    app.stop().await;

    // Without 127.0.0.1 among the allowed networks, the broker's host is
    // refused at connect time and nothing is published.
    strict.allowed_destination_networks.clear();
    let app = env.start(&strict).await;
    let queue = RabbitQueue::bind(&key).await;
    let refused = env.deliver_to(guarded, &json!({"id": "y"})).await;
    eventually("the attempt is recorded", || async {
        !env.attempts(refused).await.is_empty()
    })
    .await;
    let attempt = &env.attempts(refused).await[0];
    assert!(
        attempt.error.contains("destination refused") && attempt.error.contains("non-public"),
        "{attempt:?}"
    );
    assert!(queue.drain().await.is_empty());
    app.stop().await;
}
