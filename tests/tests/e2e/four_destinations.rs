//! The brief's example end to end: one `lead.created` to a webhook,
//! HubSpot, Mailchimp and Salesforce (the demo's local stand-ins), each
//! receiving its own projection of the lead.

use std::time::Duration;

use switchyard::receiver::Behaviour;
use switchyard::standins::StandIns;
use switchyard_client::proto;
use switchyard_tests::{LEAD_CREATED, TestStack};

#[tokio::test]
async fn one_lead_reaches_four_destinations_each_in_its_shape() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let (receiver, _) = stack.receiver(Behaviour::default()).await?;
    let standins = StandIns::start(None).await?;
    let names =
        switchyard::demo_saas::connect(&stack.client, &standins.base_url, LEAD_CREATED).await?;
    assert_eq!(names.len(), 3);

    let lead = serde_json::json!({"id": "lead_1", "email": "Ada@Example.com", "firstName": "Ada",
        "lastName": "Lovelace", "source": "ads"});
    let emitted = stack.client.emit(LEAD_CREATED, &lead).await?;
    let webhook = receiver.wait_for(1, Duration::from_secs(20)).await?;
    assert_eq!(webhook[0].json()?, lead);
    standins.wait_for(4, Duration::from_secs(20)).await?;

    let received = standins.received();
    let body = |api: &str, path_start: &str| -> anyhow::Result<serde_json::Value> {
        let found = received
            .iter()
            .find(|r| r.api == api && r.path.starts_with(path_start))
            .ok_or_else(|| anyhow::anyhow!("{api} got nothing at {path_start}: {received:?}"))?;
        Ok(serde_json::from_str(&found.body)?)
    };
    assert_eq!(
        body("HubSpot", "/crm/v3/objects/contacts/batch/upsert")?,
        serde_json::json!({"inputs": [{"idProperty": "email", "id": "Ada@Example.com",
            "properties": {"email": "Ada@Example.com", "firstname": "Ada", "lastname": "Lovelace",
                           "hs_lead_status": "NEW"}}]})
    );
    // md5("ada@example.com"): the hash of the lowercased email.
    assert_eq!(
        body(
            "Mailchimp",
            "/3.0/lists/57afe96172/members/3e3417d7ef77d5932a6734b916515ed5"
        )?,
        serde_json::json!({"email_address": "Ada@Example.com", "status_if_new": "subscribed",
            "merge_fields": {"FNAME": "Ada", "LNAME": "Lovelace"}})
    );
    assert_eq!(
        body("Salesforce", "/services/data/v60.0/sobjects/Lead/")?,
        serde_json::json!({"FirstName": "Ada", "LastName": "Lovelace", "Email": "Ada@Example.com",
            "Company": "Unknown", "LeadSource": "ads"})
    );
    let auth: Vec<&str> = received.iter().map(|r| r.authorization.as_str()).collect();
    assert!(
        auth.contains(&"Bearer …") && auth.contains(&"Basic …"),
        "{auth:?}"
    );

    let history = stack.final_deliveries(&emitted.event_id, 4).await?;
    assert_eq!(history.len(), 4);
    for delivery in &history {
        let state = delivery.delivery.clone().unwrap_or_default();
        assert_eq!(
            state.status,
            proto::DeliveryStatus::Succeeded as i32,
            "{delivery:?}"
        );
        assert_eq!(delivery.attempts.len(), 1);
    }
    stack.stop().await
}
