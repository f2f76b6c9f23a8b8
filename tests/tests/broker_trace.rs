//! Broker messages continue the event's trace: an event emitted with a
//! client's `traceparent` reaches a RabbitMQ queue and a JetStream stream
//! carrying a `traceparent` header of that trace, with the delivery id as
//! the message's id, through the four real services.
//!
//! Its own test binary: it installs the process-wide tracing subscriber.

use async_nats::jetstream;
use lapin::options::{BasicGetOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use switchyard_client::proto;
use switchyard_client::proto::create_connection_request::Destination;
use switchyard_tests::otlp::OtlpCollector;
use switchyard_tests::{LEAD_CREATED, TestStack};

const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

async fn connect(
    stack: &TestStack,
    name: &str,
    destination: Destination,
) -> anyhow::Result<String> {
    let connection = stack
        .client
        .create_connection(name, destination, None)
        .await?;
    stack
        .client
        .create_rule(LEAD_CREATED, &connection.id)
        .await?;
    Ok(connection.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broker_messages_carry_the_events_trace() -> anyhow::Result<()> {
    let collector = OtlpCollector::start().await?;
    let telemetry = collector.install_tracing("warn")?;
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let tag = uuid::Uuid::now_v7().simple().to_string();

    // RabbitMQ: a queue of this test's own on amq.topic.
    let amqp = lapin::Connection::connect(
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        lapin::ConnectionProperties::default(),
    )
    .await?;
    let channel = amqp.create_channel().await?;
    let queue = format!("sytest-trace-{tag}");
    let exclusive = QueueDeclareOptions {
        exclusive: true,
        auto_delete: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(queue.as_str().into(), exclusive, FieldTable::default())
        .await?;
    channel
        .queue_bind(
            queue.as_str().into(),
            "amq.topic".into(),
            queue.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    connect(
        &stack,
        "bus",
        Destination::Rabbitmq(proto::RabbitmqConfig {
            url: "amqp://127.0.0.1:5672".into(),
            username: "guest".into(),
            password: "guest".into(),
            exchange: "amq.topic".into(),
            routing_key: queue.clone(),
            routed_by_mapping: false,
        }),
    )
    .await?;

    // NATS: a stream of this test's own.
    let js = jetstream::new(async_nats::connect("nats://127.0.0.1:4222").await?);
    let stream_name = format!("SYTEST_TRACE_{tag}");
    let subject = format!("sytest_trace_{tag}");
    js.create_stream(jetstream::stream::Config {
        name: stream_name.clone(),
        subjects: vec![subject.clone()],
        ..Default::default()
    })
    .await?;
    connect(
        &stack,
        "stream",
        Destination::Nats(proto::NatsConfig {
            url: "nats://127.0.0.1:4222".into(),
            subject,
            ..Default::default()
        }),
    )
    .await?;

    let event_id = stack
        .emit_traced(
            r#"{"id":"l1","email":"a@example.com"}"#,
            &format!("00-{CLIENT_TRACE}-b7ad6b7169203331-01"),
        )
        .await?;
    let deliveries = stack.final_deliveries(&event_id, 2).await?;
    let delivery_ids: Vec<String> = deliveries
        .iter()
        .filter_map(|d| d.delivery.as_ref())
        .inspect(|d| assert_eq!(d.status, proto::DeliveryStatus::Succeeded as i32, "{d:?}"))
        .map(|d| d.id.clone())
        .collect();
    let trace_prefix = format!("00-{CLIENT_TRACE}-");

    let message = channel
        .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
        .await?
        .ok_or_else(|| anyhow::anyhow!("no RabbitMQ message"))?;
    let headers = message
        .delivery
        .properties
        .headers()
        .clone()
        .unwrap_or_default();
    let Some(AMQPValue::LongString(traceparent)) = headers.inner().get("traceparent") else {
        anyhow::bail!("no traceparent header: {headers:?}");
    };
    assert!(
        traceparent.to_string().starts_with(&trace_prefix),
        "{traceparent}"
    );
    let message_id = message
        .delivery
        .properties
        .message_id()
        .clone()
        .map(|id| id.to_string());
    assert!(delivery_ids.contains(&message_id.unwrap_or_default()));

    let stored = js
        .get_stream(&stream_name)
        .await?
        .get_raw_message(1)
        .await?;
    let traceparent = stored.headers.get("traceparent").map(|v| v.to_string());
    assert!(
        traceparent
            .as_deref()
            .is_some_and(|t| t.starts_with(&trace_prefix)),
        "{traceparent:?}"
    );
    let msg_id = stored.headers.get("Nats-Msg-Id").map(|v| v.to_string());
    assert!(delivery_ids.contains(&msg_id.unwrap_or_default()));

    js.delete_stream(&stream_name).await?;
    stack.stop().await?;
    telemetry.shutdown();
    Ok(())
}
