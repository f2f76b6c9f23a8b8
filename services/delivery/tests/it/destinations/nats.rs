//! NATS JetStream against real servers: the machine's for the message and
//! its refusal, a test-owned `nats-server` for stopping mid-run. The
//! stream stores each delivery once: the delivery id is the
//! `Nats-Msg-Id`, so a retried publish is a duplicate JetStream drops.

use std::collections::BTreeSet;

use serde_json::json;
use switchyard_delivery::limits::BreakerState;

use crate::common::TestEnv;
use crate::common::brokers::{JetStreamStream, NatsServer, nats_url, unique};
use crate::common::controls::eventually;

async fn connection(
    env: &TestEnv,
    url: &str,
    subject: &str,
    policy: serde_json::Value,
) -> switchyard_core::ids::ConnectionId {
    env.insert_broker_connection(
        "nats",
        json!({"url": url, "subject": subject}),
        None,
        policy,
    )
    .await
}

fn header(message: &async_nats::jetstream::message::StreamMessage, name: &str) -> Option<String> {
    message.headers.get(name).map(|value| value.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_to_the_stream_with_the_delivery_id_and_a_retry_is_stored_once() {
    let env = TestEnv::new().await;
    let stream = JetStreamStream::create(&nats_url()).await;
    let subject = format!("{}.lead.created", stream.prefix);
    let connection = connection(&env, &nats_url(), &subject, json!({})).await;
    let app = env.start(&env.config()).await;

    let payload = json!({"id": "lead_1", "email": "ada@example.com"});
    let delivery = env.deliver_to(connection, &payload).await;
    env.wait_for_status(delivery, "succeeded").await;
    let messages = stream.messages().await;
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.subject.as_str(), subject);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&message.payload).ok(),
        Some(payload.clone())
    );
    assert_eq!(header(message, "Nats-Msg-Id"), Some(delivery.to_string()));
    assert_eq!(
        header(message, "Content-Type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        env.attempt_details(delivery).await,
        [json!({"kind": "nats", "stream": stream.name, "seq": 1, "duplicate": false})]
    );
    assert_eq!(
        env.attempts(delivery).await[0].url,
        format!("{}/{subject}", nats_url())
    );

    // The same delivery published again (as after an ack lost on the way
    // back): JetStream answers `duplicate` and keeps one copy.
    env.execute(
        "UPDATE deliveries SET status = 'pending', next_attempt_at = now() WHERE id = $1",
        &[&delivery.as_uuid()],
    )
    .await;
    env.enqueue(delivery).await;
    eventually("the second attempt is recorded", || async {
        env.attempts(delivery).await.len() == 2
    })
    .await;
    let details = env.attempt_details(delivery).await;
    assert_eq!(
        details[1],
        json!({"kind": "nats", "stream": stream.name, "seq": 1, "duplicate": true})
    );
    assert_eq!(stream.count().await, 1);
    app.stop().await;
    stream.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subject_without_a_stream_fails_with_the_servers_reason() {
    let env = TestEnv::new().await;
    let subject = format!("{}.nowhere", unique("sytest_nostream_"));
    let connection = connection(&env, &nats_url(), &subject, json!({})).await;
    let app = env.start(&env.config()).await;

    let delivery = env.deliver_to(connection, &json!({"id": "x"})).await;
    let state = env.wait_for_status(delivery, "dead").await;
    assert_eq!(state.attempt_count, 3, "retried by the schedule");
    assert_eq!(
        state.last_error,
        format!("NATS 503: no responders: no JetStream stream captures subject `{subject}`")
    );
    assert!(
        env.attempts(delivery)
            .await
            .iter()
            .all(|a| a.status_code == Some(503))
    );
    let breaker = env.breaker(connection).await;
    assert_eq!(
        (breaker.state, breaker.failure_streak),
        (BreakerState::Closed, 0)
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stopped_mid_run_loses_and_doubles_nothing() {
    let env = TestEnv::new().await;
    let mut server = NatsServer::start().await;
    let stream = JetStreamStream::create(&server.url()).await;
    let subject = format!("{}.orders", stream.prefix);
    let policy = json!({
        "retry": {"kind": "exponential", "initial_ms": 200, "factor": 1.0, "cap_ms": 200, "max_attempts": 200},
        "circuit_breaker": {"failure_threshold": 3, "cooldown_ms": 500}
    });
    let connection = connection(&env, &server.url(), &subject, policy).await;
    let mut config = env.config();
    config.delivery.request_timeout = std::time::Duration::from_millis(700);
    let app = env.start(&config).await;

    let before = env.deliveries_to(connection, 20).await;
    env.enqueue_all(&before).await;
    env.wait_for_all(&before, "succeeded").await;

    server.stop().await;
    let during = env.deliveries_to(connection, 20).await;
    env.enqueue_all(&during).await;
    eventually("the breaker opens", || async {
        env.breaker(connection).await.state == BreakerState::Open
    })
    .await;
    assert!(env.breaker(connection).await.failure_streak >= 3);

    server.restart().await;
    env.wait_for_all(&during, "succeeded").await;
    let stream = JetStreamStream {
        context: async_nats::jetstream::new(
            async_nats::connect(server.url()).await.expect("reconnect"),
        ),
        ..stream
    };
    let messages = stream.messages().await;
    let ids: Vec<String> = messages
        .iter()
        .filter_map(|m| header(m, "Nats-Msg-Id"))
        .collect();
    let expected: BTreeSet<String> = before
        .iter()
        .chain(&during)
        .map(ToString::to_string)
        .collect();
    assert_eq!(ids.len(), expected.len(), "stored once each");
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), expected);
    app.stop().await;
}
