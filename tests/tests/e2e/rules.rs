//! Rules with conditions and mappings through the four services: fan-out to
//! three connections with a body per mapping, a failing mapping isolated on
//! its own failed delivery, and a crash between the routing commit and the
//! enqueue repaired into exactly one webhook.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use switchyard::receiver::{Behaviour, Receiver};
use switchyard_client::{Client, proto};
use switchyard_router::RouterApp;
use switchyard_router::routing::RepairSettings;
use switchyard_tests::{LEAD_CREATED, Service, TestStack};

async fn receiver_for(client: &Client, name: &str) -> anyhow::Result<(Receiver, String)> {
    let receiver =
        Receiver::start(SocketAddr::from(([127, 0, 0, 1], 0)), Behaviour::default()).await?;
    let connection = client
        .create_webhook(name, &receiver.url("/hook"), HashMap::new())
        .await?;
    receiver.set_secret(&connection.signing_secret);
    Ok((receiver, connection.id))
}

async fn rule(
    client: &Client,
    connection_id: &str,
    event_type: &str,
    condition: &str,
    mapping: &str,
) -> anyhow::Result<proto::Rule> {
    Ok(client
        .router
        .clone()
        .create_rule(proto::CreateRuleRequest {
            event_type: event_type.into(),
            connection_id: connection_id.into(),
            condition: condition.into(),
            mapping: mapping.into(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .rule
        .unwrap_or_default())
}

#[tokio::test]
async fn one_event_fans_out_to_three_connections_each_with_its_body() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let client = &stack.client;
    let (crm, crm_id) = receiver_for(client, "crm").await?;
    let (mail, mail_id) = receiver_for(client, "mail").await?;
    let (sheet, sheet_id) = receiver_for(client, "sheet").await?;
    let (never, never_id) = receiver_for(client, "never").await?;
    rule(
        client,
        &crm_id,
        LEAD_CREATED,
        "event.payload.amount > 100",
        r#"{"email": event.payload.email, "properties": {"source": event.payload.source}}"#,
    )
    .await?;
    rule(
        client,
        &mail_id,
        "lead.*",
        "",
        r#"{"to": event.payload.email.upperAscii(), "event": event.type}"#,
    )
    .await?;
    rule(client, &sheet_id, "*", "", "").await?;
    rule(
        client,
        &never_id,
        LEAD_CREATED,
        r#"event.payload.source == "seo""#,
        "",
    )
    .await?;

    let payload = serde_json::json!({"id": "lead_1", "email": "ada@example.com", "amount": 150, "source": "ads"});
    let emitted = stack.client.emit(LEAD_CREATED, &payload).await?;
    let patience = Duration::from_secs(20);
    let at_crm = crm.wait_for(1, patience).await?;
    let at_mail = mail.wait_for(1, patience).await?;
    let at_sheet = sheet.wait_for(1, patience).await?;
    assert_eq!(
        at_crm[0].json()?,
        serde_json::json!({"email": "ada@example.com", "properties": {"source": "ads"}})
    );
    assert_eq!(
        at_mail[0].json()?,
        serde_json::json!({"to": "ADA@EXAMPLE.COM", "event": "lead.created"})
    );
    assert_eq!(
        at_sheet[0].json()?,
        payload,
        "no mapping: the payload as emitted"
    );
    for webhook in [&at_crm[0], &at_mail[0], &at_sheet[0]] {
        assert_eq!(
            webhook.signature,
            Some(Ok(())),
            "each signed with its connection's secret"
        );
    }

    let deliveries = stack.final_deliveries(&emitted.event_id, 3).await?;
    assert_eq!(
        deliveries.len(),
        3,
        "exactly one delivery per matching rule"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        never.received().is_empty(),
        "a false condition sends nothing"
    );
    assert_eq!(
        crm.received().len() + mail.received().len() + sheet.received().len(),
        3
    );
    stack.stop().await
}

#[tokio::test]
async fn a_failing_mapping_fails_its_delivery_visibly_and_the_others_deliver() -> anyhow::Result<()>
{
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let client = &stack.client;
    let (good, good_id) = receiver_for(client, "good").await?;
    let (bad, bad_id) = receiver_for(client, "bad").await?;
    rule(
        client,
        &good_id,
        LEAD_CREATED,
        "",
        r#"{"id": event.payload.id}"#,
    )
    .await?;
    let failing = rule(
        client,
        &bad_id,
        LEAD_CREATED,
        "",
        r#"{"company": event.payload.company}"#,
    )
    .await?;

    let emitted = stack
        .client
        .emit(
            LEAD_CREATED,
            &serde_json::json!({"id": "lead_2", "email": "bo@example.com"}),
        )
        .await?;
    let received = good.wait_for(1, Duration::from_secs(20)).await?;
    assert_eq!(received[0].json()?, serde_json::json!({"id": "lead_2"}));

    let listed = stack.client.list_deliveries(&emitted.event_id).await?;
    assert_eq!(listed.len(), 2);
    let failed = listed
        .iter()
        .find(|d| d.rule_id == failing.id)
        .cloned()
        .unwrap_or_default();
    assert_eq!(failed.status, proto::DeliveryStatus::Failed as i32);
    assert_eq!(failed.last_error, "mapping: no such key: company");
    let shown = stack.client.get_delivery(&failed.id).await?;
    let shown_delivery = shown.delivery.unwrap_or_default();
    assert_eq!(shown_delivery.status, proto::DeliveryStatus::Failed as i32);
    assert_eq!(shown_delivery.last_error, "mapping: no such key: company");
    assert_eq!(shown_delivery.attempt_count, 0);
    assert!(
        shown.attempts.is_empty(),
        "a failed delivery is never attempted"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(bad.received().is_empty());
    stack.stop().await
}

#[tokio::test]
async fn a_crash_between_commit_and_enqueue_still_delivers_exactly_once() -> anyhow::Result<()> {
    // The router runs here, outside the stack, so the test can reach its
    // fault hook; it serves on the address the stack reserved for it.
    let stack = TestStack::start_with(
        &[Service::Registry, Service::Ingest, Service::Delivery],
        |_| {},
    )
    .await?;
    let app = RouterApp::build(stack.stack.config())
        .await?
        .with_repair(RepairSettings {
            grace: Duration::from_millis(500),
            interval: Duration::from_millis(100),
            batch: 100,
        });
    let state = app.state().clone();
    let listener = tokio::net::TcpListener::bind(stack.stack.addr(Service::Router)).await?;
    let (trigger, signal) = switchyard_core::shutdown::channel();
    let router = tokio::spawn(app.run(listener, signal));

    stack.register_lead_schema().await?;
    let (receiver, connection_id) = receiver_for(&stack.client, "crm").await?;
    rule(&stack.client, &connection_id, LEAD_CREATED, "", "").await?;
    state.faults.fail_next_enqueues(1);

    let emitted = stack
        .client
        .emit(
            LEAD_CREATED,
            &serde_json::json!({"id": "lead_3", "email": "cy@example.com"}),
        )
        .await?;
    let received = receiver.wait_for(1, Duration::from_secs(20)).await?;
    assert_eq!(received[0].json()?["id"], "lead_3");
    // Time for any duplicate job to be worked off.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().len(), 1, "the webhook arrives once");

    let history = stack.final_deliveries(&emitted.event_id, 1).await?;
    assert_eq!(history.len(), 1, "one delivery");
    assert_eq!(history[0].attempts.len(), 1, "one attempt, from one job");
    let deliveries = stack
        .count("SELECT count(*) FROM deliveries WHERE enqueued_at IS NOT NULL")
        .await?;
    assert_eq!(deliveries, 1, "enqueued by the repair loop");

    trigger.trip();
    router.await??;
    stack.stop().await
}
