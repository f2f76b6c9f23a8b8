//! A deprecated event type still takes events, and ingest says so.

use serde_json::json;
use switchyard_client::proto;
use switchyard_tests::{LEAD_CREATED, Service, TestStack};

#[tokio::test]
async fn emits_of_a_deprecated_type_are_accepted_and_flagged() -> anyhow::Result<()> {
    let stack = TestStack::start_with(&[Service::Registry, Service::Ingest], |_| {}).await?;
    stack.register_lead_schema().await?;
    let payload = json!({"id": "lead_1", "email": "ada@example.com"});
    let before = stack.client.emit(LEAD_CREATED, &payload).await?;
    assert!(!before.deprecated);

    stack
        .client
        .registry
        .clone()
        .deprecate_event_type(proto::DeprecateEventTypeRequest {
            event_type: LEAD_CREATED.to_string(),
            deprecated: true,
            reason: "use lead.captured".to_string(),
        })
        .await?;
    let after = stack.client.emit(LEAD_CREATED, &payload).await?;
    assert!(after.deprecated);
    assert_ne!(after.event_id, before.event_id);
    assert_eq!(
        stack.count("SELECT count(*) FROM events").await?,
        2,
        "both events were stored"
    );

    // Invalid payloads are still refused, deprecated or not.
    let refused = stack
        .client
        .emit(LEAD_CREATED, &json!({"id": "lead_2"}))
        .await
        .expect_err("missing email");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    Ok(())
}
