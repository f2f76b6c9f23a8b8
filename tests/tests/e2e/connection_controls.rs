//! Connection controls through the four real services: a delivery policy
//! set at creation, read back and replaced; pause and resume through the
//! router while events keep coming; the circuit breaker as `GetConnection`
//! shows it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use switchyard::receiver::{Behaviour, Receiver};
use switchyard_client::proto;
use switchyard_tests::{LEAD_CREATED, TestStack};
use tonic::Code;

fn seconds(seconds: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration { seconds, nanos: 0 })
}

/// A receiver, a webhook connection to it with `policy`, and a rule.
async fn connect(
    stack: &TestStack,
    behaviour: Behaviour,
    policy: Option<proto::DeliveryPolicy>,
) -> anyhow::Result<(Receiver, proto::Connection)> {
    let receiver = Receiver::start(SocketAddr::from(([127, 0, 0, 1], 0)), behaviour).await?;
    let connection = stack
        .client
        .create_webhook_with_policy("hook", &receiver.url("/hook"), HashMap::new(), policy)
        .await?;
    receiver.set_secret(&connection.signing_secret);
    stack
        .client
        .create_rule(LEAD_CREATED, &connection.id)
        .await?;
    Ok((receiver, connection))
}

async fn emit(stack: &TestStack, n: usize) -> anyhow::Result<String> {
    let payload = serde_json::json!({ "id": format!("lead_{n}"), "email": "ada@example.com" });
    Ok(stack.client.emit(LEAD_CREATED, &payload).await?.event_id)
}

async fn get(stack: &TestStack, id: &str) -> anyhow::Result<proto::Connection> {
    let request = proto::GetConnectionRequest { id: id.to_string() };
    let response = stack.client.router.clone().get_connection(request).await?;
    response
        .into_inner()
        .connection
        .ok_or_else(|| anyhow::anyhow!("no connection"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delivery_policy_is_stored_returned_and_replaced() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let policy = proto::DeliveryPolicy {
        retry: Some(proto::RetryPolicy {
            policy: Some(proto::retry_policy::Policy::Exponential(
                proto::ExponentialBackoff {
                    initial: seconds(1),
                    factor: 2.0,
                    cap: seconds(60),
                    max_attempts: 5,
                },
            )),
        }),
        request_timeout: seconds(10),
        rate_limit: Some(proto::RateLimit {
            count: 50,
            period: seconds(1),
        }),
        max_concurrency: 4,
        ..Default::default()
    };
    let (_receiver, created) = connect(&stack, Behaviour::default(), Some(policy)).await?;
    let read = get(&stack, &created.id).await?;
    assert_eq!(read.state(), proto::ConnectionState::Active);
    let stored = read.policy.expect("policy");
    assert_eq!(stored.max_concurrency, 4);
    assert_eq!(stored.rate_limit.map(|r| r.count), Some(50));
    let breaker = stored.circuit_breaker.expect("defaults filled in");
    assert_eq!(breaker.failure_threshold, Some(10));
    assert_eq!(breaker.cooldown, seconds(30));
    let live = read.circuit_breaker.expect("breaker");
    assert_eq!(live.state(), proto::CircuitState::Closed);

    let replace = proto::UpdateConnectionRequest {
        id: created.id.clone(),
        name: Some("renamed".to_string()),
        policy: Some(proto::DeliveryPolicy {
            permanent_client_errors: true,
            ..Default::default()
        }),
        ..Default::default()
    };
    let updated = stack
        .client
        .router
        .clone()
        .update_connection(replace)
        .await?
        .into_inner()
        .connection
        .expect("connection");
    assert_eq!(updated.name, "renamed");
    let policy = updated.policy.expect("policy");
    assert!(policy.permanent_client_errors);
    assert_eq!(policy.max_concurrency, 0, "the policy is replaced whole");

    let invalid = proto::UpdateConnectionRequest {
        id: created.id.clone(),
        policy: Some(proto::DeliveryPolicy {
            request_timeout: seconds(3600),
            ..Default::default()
        }),
        ..Default::default()
    };
    let status = stack
        .client
        .router
        .clone()
        .update_connection(invalid)
        .await
        .expect_err("an hour is too long");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("policy.request_timeout"),
        "{}",
        status.message()
    );
    let nothing = proto::UpdateConnectionRequest {
        id: created.id.clone(),
        ..Default::default()
    };
    let status = stack
        .client
        .router
        .clone()
        .update_connection(nothing)
        .await
        .expect_err("nothing to change");
    assert_eq!(status.code(), Code::InvalidArgument);
    stack.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paused_connection_keeps_its_deliveries_until_resumed() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let (receiver, connection) = connect(&stack, Behaviour::default(), None).await?;
    let mut router = stack.client.router.clone();
    let paused = router
        .pause_connection(proto::PauseConnectionRequest {
            id: connection.id.clone(),
        })
        .await?
        .into_inner()
        .connection
        .expect("connection");
    assert_eq!(paused.state(), proto::ConnectionState::Paused);

    let mut events = Vec::new();
    for n in 0..5 {
        events.push(emit(&stack, n).await?);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        receiver.received().is_empty(),
        "nothing is sent while paused"
    );
    for event in &events {
        let deliveries = stack.client.list_deliveries(event).await?;
        assert_eq!(deliveries.len(), 1);
        assert_eq!(deliveries[0].status(), proto::DeliveryStatus::Pending);
        assert_eq!(deliveries[0].attempt_count, 0);
    }

    let resumed = router
        .resume_connection(proto::ResumeConnectionRequest {
            id: connection.id.clone(),
        })
        .await?
        .into_inner();
    assert_eq!(resumed.requeued_count, 5);
    assert_eq!(
        resumed.connection.expect("connection").state(),
        proto::ConnectionState::Active
    );
    let received = receiver.wait_for(5, Duration::from_secs(20)).await?;
    assert!(received.iter().all(|r| r.signature == Some(Ok(()))));
    for event in &events {
        let history = stack.final_deliveries(event, 1).await?;
        let delivery = history[0].delivery.clone().expect("delivery");
        assert_eq!(delivery.status(), proto::DeliveryStatus::Succeeded);
        assert_eq!(delivery.attempt_count, 1);
    }
    stack.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn get_connection_shows_an_open_circuit_breaker() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let policy = proto::DeliveryPolicy {
        circuit_breaker: Some(proto::CircuitBreakerPolicy {
            failure_threshold: Some(2),
            cooldown: seconds(60),
            ..Default::default()
        }),
        ..Default::default()
    };
    let failing = Behaviour {
        default_status: 503,
        ..Behaviour::default()
    };
    let (_receiver, connection) = connect(&stack, failing, Some(policy)).await?;
    for n in 0..3 {
        emit(&stack, n).await?;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let breaker = loop {
        let breaker = get(&stack, &connection.id)
            .await?
            .circuit_breaker
            .expect("breaker");
        if breaker.state() == proto::CircuitState::Open {
            break breaker;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never opened: {breaker:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(breaker.failure_streak >= 2, "{breaker:?}");
    assert_eq!(breaker.last_error, "HTTP 503");
    assert!(breaker.opened_at.is_some() && breaker.last_failure_at.is_some());
    stack.stop().await
}
