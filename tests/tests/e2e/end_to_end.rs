//! One event from EmitEvent to a signed webhook through the four services,
//! on real Postgres, Redis and HTTP.

use std::time::Duration;

use switchyard::receiver::Behaviour;
use switchyard_client::proto;
use switchyard_tests::{LEAD_CREATED, TestStack};

#[tokio::test]
async fn an_emitted_event_arrives_signed_and_its_history_is_recorded() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let (receiver, connection) = stack.receiver(Behaviour::default()).await?;

    let payload = serde_json::json!({"id": "lead_1", "email": "ada@example.com", "amount": 12.5, "source": "ads"});
    let emitted = stack.client.emit(LEAD_CREATED, &payload).await?;
    assert!(emitted.event_id.starts_with("evt_"));
    assert!(!emitted.duplicate);
    assert_eq!(emitted.schema_version, 1);

    let received = receiver.wait_for(1, Duration::from_secs(20)).await?;
    let webhook = &received[0];
    assert_eq!(webhook.method, "POST");
    assert_eq!(webhook.path, "/hook");
    assert_eq!(webhook.json()?, payload);
    assert_eq!(webhook.header("content-type"), Some("application/json"));
    assert_eq!(
        webhook.signature,
        Some(Ok(())),
        "signature must verify with the connection's secret"
    );
    let timestamp: i64 = webhook
        .header("webhook-timestamp")
        .unwrap_or_default()
        .parse()?;
    assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);

    let history = stack.final_deliveries(&emitted.event_id, 1).await?;
    let delivery = history[0].delivery.clone().unwrap_or_default();
    assert_eq!(webhook.header("webhook-id"), Some(delivery.id.as_str()));
    assert_eq!(delivery.event_id, emitted.event_id);
    assert_eq!(delivery.connection_id, connection.id);
    assert_eq!(delivery.status, proto::DeliveryStatus::Succeeded as i32);
    assert_eq!(delivery.attempt_count, 1);
    assert_eq!(history[0].attempts.len(), 1);
    assert_eq!(history[0].attempts[0].attempt, 1);
    assert_eq!(history[0].attempts[0].status_code, 204);
    assert!(history[0].attempts[0].started_at.is_some());

    let listed = stack.client.list_deliveries(&emitted.event_id).await?;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, delivery.id);
    assert_eq!(listed[0].status, proto::DeliveryStatus::Succeeded as i32);
    stack.stop().await
}

#[tokio::test]
async fn failures_are_retried_with_the_same_webhook_id_until_success() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let (receiver, _) = stack
        .receiver(Behaviour {
            script: vec![500, 500],
            default_status: 204,
            ..Behaviour::default()
        })
        .await?;

    let emitted = stack
        .client
        .emit(
            LEAD_CREATED,
            &serde_json::json!({"id": "lead_2", "email": "bo@example.com"}),
        )
        .await?;
    let received = receiver.wait_for(3, Duration::from_secs(20)).await?;
    let ids: Vec<_> = received
        .iter()
        .map(|w| w.header("webhook-id").map(str::to_string))
        .collect();
    assert!(
        ids.iter().all(|id| id == &ids[0]),
        "webhook-id must be stable: {ids:?}"
    );
    assert!(received.iter().all(|w| w.signature == Some(Ok(()))));

    let history = stack.final_deliveries(&emitted.event_id, 1).await?;
    let delivery = history[0].delivery.clone().unwrap_or_default();
    assert_eq!(ids[0].as_deref(), Some(delivery.id.as_str()));
    assert_eq!(delivery.status, proto::DeliveryStatus::Succeeded as i32);
    assert_eq!(delivery.attempt_count, 3);
    let statuses: Vec<u32> = history[0].attempts.iter().map(|a| a.status_code).collect();
    assert_eq!(statuses, vec![500, 500, 204]);
    let numbers: Vec<u32> = history[0].attempts.iter().map(|a| a.attempt).collect();
    assert_eq!(numbers, vec![1, 2, 3]);
    assert!(
        !history[0].attempts[0].error.is_empty(),
        "a failed attempt says why"
    );
    stack.stop().await
}

#[tokio::test]
async fn a_delivery_is_dead_after_its_last_attempt() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let (receiver, _) = stack
        .receiver(Behaviour {
            default_status: 503,
            ..Behaviour::default()
        })
        .await?;
    let emitted = stack
        .client
        .emit(
            LEAD_CREATED,
            &serde_json::json!({"id": "lead_3", "email": "cy@example.com"}),
        )
        .await?;
    let history = stack.final_deliveries(&emitted.event_id, 1).await?;
    let delivery = history[0].delivery.clone().unwrap_or_default();
    assert_eq!(delivery.status, proto::DeliveryStatus::Dead as i32);
    // The test schedule has three entries: three attempts, then dead.
    assert_eq!(delivery.attempt_count, 3);
    assert_eq!(history[0].attempts.len(), 3);
    assert!(
        delivery.last_error.contains("503"),
        "last error: {}",
        delivery.last_error
    );
    assert_eq!(receiver.received().len(), 3);
    stack.stop().await
}

#[tokio::test]
async fn the_same_idempotency_key_twice_makes_one_event_and_one_delivery() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let (receiver, _) = stack.receiver(Behaviour::default()).await?;
    let request = proto::EmitEventRequest {
        event_type: LEAD_CREATED.to_string(),
        payload_json: r#"{"id":"lead_4","email":"di@example.com"}"#.to_string(),
        idempotency_key: "order-42".to_string(),
        schema_version: 0,
    };
    let first = stack.client.emit_event(request.clone()).await?;
    let second = stack.client.emit_event(request).await?;
    assert!(!first.duplicate);
    assert!(second.duplicate);
    assert_eq!(first.event_id, second.event_id);

    stack.final_deliveries(&first.event_id, 1).await?;
    // Give a wrongly duplicated delivery time to show up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stack.count("SELECT count(*) FROM events").await?, 1);
    assert_eq!(stack.count("SELECT count(*) FROM deliveries").await?, 1);
    assert_eq!(receiver.received().len(), 1);
    stack.stop().await
}

#[tokio::test]
async fn an_event_emitted_while_the_router_is_down_is_delivered_once_it_is_back()
-> anyhow::Result<()> {
    use switchyard_tests::Service;
    let mut stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let (receiver, _) = stack.receiver(Behaviour::default()).await?;
    stack.stack.stop_service(Service::Router).await?;

    let emitted = stack
        .client
        .emit(
            LEAD_CREATED,
            &serde_json::json!({"id": "lead_5", "email": "ed@example.com"}),
        )
        .await?;
    // Stored, answered, and waiting in the outbox while the router is away.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        stack.count("SELECT count(*) FROM events_unrouted").await?,
        1
    );
    assert_eq!(stack.count("SELECT count(*) FROM deliveries").await?, 0);
    assert!(receiver.received().is_empty());

    stack.stack.start_service(Service::Router).await?;
    let received = receiver.wait_for(1, Duration::from_secs(20)).await?;
    assert_eq!(received[0].json()?["id"], "lead_5");
    let history = stack.final_deliveries(&emitted.event_id, 1).await?;
    assert_eq!(
        history[0].delivery.as_ref().map(|d| d.status),
        Some(proto::DeliveryStatus::Succeeded as i32)
    );
    assert_eq!(
        stack.count("SELECT count(*) FROM events_unrouted").await?,
        0
    );
    stack.stop().await
}
