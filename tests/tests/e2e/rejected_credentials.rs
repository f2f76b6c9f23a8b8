//! A connection whose credentials the destination rejects, through the
//! four services: its deliveries wait (not attempted, not counted) until
//! UpdateConnection sets new credentials, then they are delivered.

use std::net::SocketAddr;
use std::time::Duration;

use switchyard::receiver::{Behaviour, Receiver};
use switchyard_client::proto;
use switchyard_tests::{LEAD_CREATED, TestStack};

#[tokio::test]
async fn rejected_credentials_hold_deliveries_until_updated() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    // Plays HubSpot: the first request is refused (expired token).
    let behaviour = Behaviour {
        script: vec![401],
        default_status: 200,
        ..Behaviour::default()
    };
    let api = Receiver::start(SocketAddr::from(([127, 0, 0, 1], 0)), behaviour).await?;
    let mut router = stack.client.router.clone();
    let connection = router
        .create_connection(proto::CreateConnectionRequest {
            name: "crm".into(),
            destination: Some(proto::create_connection_request::Destination::Hubspot(
                proto::HubspotConfig {
                    token: "pat-expired".into(),
                    base_url: api.url(""),
                    ..Default::default()
                },
            )),
            policy: None,
        })
        .await?
        .into_inner()
        .connection
        .ok_or_else(|| anyhow::anyhow!("no connection"))?;
    stack
        .client
        .create_rule(LEAD_CREATED, &connection.id)
        .await?;

    let lead = |n: u32| serde_json::json!({"id": format!("lead_{n}"), "email": format!("lead{n}@example.com")});
    let first = stack.client.emit(LEAD_CREATED, &lead(1)).await?;
    api.wait_for(1, Duration::from_secs(20)).await?;
    let get = proto::GetConnectionRequest {
        id: connection.id.clone(),
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let state = router.get_connection(get.clone()).await?.into_inner();
        let state = state.connection.map(|c| c.state()).unwrap_or_default();
        if state == proto::ConnectionState::NeedsCredentials {
            break;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "never needs credentials"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let second = stack.client.emit(LEAD_CREATED, &lead(2)).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        api.received().len(),
        1,
        "nothing is sent while the token is rejected"
    );

    let updated = router
        .update_connection(proto::UpdateConnectionRequest {
            id: connection.id.clone(),
            hubspot: Some(proto::HubspotConfig {
                token: "pat-fresh".into(),
                base_url: api.url(""),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await?
        .into_inner();
    assert_eq!(updated.requeued_count, 2);
    let state = updated.connection.map(|c| c.state()).unwrap_or_default();
    assert_eq!(state, proto::ConnectionState::Active);

    for event in [&first.event_id, &second.event_id] {
        let history = stack.final_deliveries(event, 1).await?;
        let delivery = history[0].delivery.clone().unwrap_or_default();
        assert_eq!(delivery.status, proto::DeliveryStatus::Succeeded as i32);
    }
    let first_history = stack.final_deliveries(&first.event_id, 1).await?;
    let attempts = &first_history[0].attempts;
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].status_code, 401);
    assert!(
        attempts[0]
            .error
            .starts_with("HubSpot rejected the token (HTTP 401)")
    );
    let received = api.received();
    assert_eq!(received.len(), 3);
    assert_eq!(
        received[0].header("authorization"),
        Some("Bearer pat-expired")
    );
    for later in &received[1..] {
        assert_eq!(later.header("authorization"), Some("Bearer pat-fresh"));
        assert_eq!(later.path, "/crm/v3/objects/contacts/batch/upsert");
    }
    stack.stop().await
}
