//! TestRule shows the exact request per connection kind — method, URL,
//! headers with every credential masked, body — and sends nothing.

use std::collections::HashMap;

use serde_json::json;
use switchyard_client::proto;

use crate::common::{Harness, create_rule, new_rule};

const MASK: &str = "********";

async fn connection(
    router: &mut proto::router_service_client::RouterServiceClient<
        switchyard_client::AuthedChannel,
    >,
    request: proto::CreateConnectionRequest,
) -> String {
    router
        .create_connection(request)
        .await
        .expect("connection")
        .into_inner()
        .connection
        .expect("connection")
        .id
}

#[tokio::test]
async fn test_rule_shows_each_kinds_request_with_credentials_masked() {
    let harness = Harness::new().await;
    let running = harness.start_router().await;
    let client = &running.client;
    let mut router = client.router.clone();
    use proto::create_connection_request::Destination;
    let hubspot = connection(
        &mut router,
        proto::CreateConnectionRequest {
            name: "crm".into(),
            destination: Some(Destination::Hubspot(proto::HubspotConfig {
                token: "pat-na1-secret".into(),
                base_url: "http://127.0.0.1:9".into(),
                ..Default::default()
            })),
            policy: None,
        },
    )
    .await;
    let mailchimp = connection(
        &mut router,
        proto::CreateConnectionRequest {
            name: "news".into(),
            destination: Some(Destination::Mailchimp(proto::MailchimpConfig {
                api_key: "0123abcd-us6".into(),
                list_id: "57afe96172".into(),
                ..Default::default()
            })),
            policy: None,
        },
    )
    .await;
    let salesforce = connection(
        &mut router,
        proto::CreateConnectionRequest {
            name: "sales".into(),
            destination: Some(Destination::Salesforce(proto::SalesforceConfig {
                client_id: "3MVG9.client".into(),
                client_secret: "s3cr3t".into(),
                ..Default::default()
            })),
            policy: None,
        },
    )
    .await;
    let webhook = client
        .create_webhook(
            "hook",
            "http://127.0.0.1:9/hook",
            HashMap::from([(
                "Authorization".to_string(),
                "Bearer hook-secret".to_string(),
            )]),
        )
        .await
        .expect("webhook")
        .id;

    let payload = json!({"email": "Ada@Example.com", "first": "Ada", "last": "Lovelace"});
    let preview = |connection: String, mapping: &'static str| {
        let client = client.clone();
        let payload = payload.clone();
        async move {
            let rule = create_rule(
                &client,
                proto::CreateRuleRequest {
                    mapping: mapping.into(),
                    ..new_rule("lead.created", &connection)
                },
            )
            .await;
            let request = proto::TestRuleRequest {
                rule: Some(proto::test_rule_request::Rule::RuleId(rule.id)),
                event_type: "lead.created".into(),
                payload_json: payload.to_string(),
            };
            let answer = client
                .router
                .clone()
                .test_rule(request)
                .await
                .expect("test rule");
            let answer = answer.into_inner();
            assert!(answer.matched, "{answer:?}");
            let shown = format!("{answer:?}");
            for secret in ["pat-na1-secret", "0123abcd-us6", "s3cr3t", "hook-secret"] {
                assert!(!shown.contains(secret), "{secret} shown in {shown}");
            }
            answer.request.expect("a request preview")
        }
    };

    let request = preview(
        hubspot,
        r#"{"email": event.payload.email.lowerAscii(), "firstname": event.payload.first}"#,
    )
    .await;
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.url,
        "http://127.0.0.1:9/crm/v3/objects/contacts/batch/upsert"
    );
    assert_eq!(request.headers["authorization"], format!("Bearer {MASK}"));
    let body: serde_json::Value = serde_json::from_str(&request.body_json).expect("json");
    assert_eq!(
        body,
        json!({"inputs": [{"idProperty": "email", "id": "ada@example.com",
            "properties": {"email": "ada@example.com", "firstname": "Ada"}}]})
    );

    let request = preview(
        mailchimp,
        r#"{"email_address": event.payload.email, "merge_fields": {"FNAME": event.payload.first}}"#,
    )
    .await;
    assert_eq!(request.method, "PUT");
    assert_eq!(
        request.url,
        "https://us6.api.mailchimp.com/3.0/lists/57afe96172/members/3e3417d7ef77d5932a6734b916515ed5"
    );
    assert_eq!(request.headers["authorization"], format!("Basic {MASK}"));

    let request = preview(
        salesforce,
        r#"{"LastName": event.payload.last, "Company": "Analytical Engines"}"#,
    )
    .await;
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.url,
        "<instance_url>/services/data/v60.0/sobjects/Lead/"
    );
    let body: serde_json::Value = serde_json::from_str(&request.body_json).expect("json");
    assert_eq!(
        body,
        json!({"LastName": "Lovelace", "Company": "Analytical Engines"})
    );

    let request = preview(webhook, "").await;
    assert_eq!(request.url, "http://127.0.0.1:9/hook");
    assert_eq!(request.headers["Authorization"], MASK);
    assert_eq!(
        request.headers["webhook-signature"],
        "<v1,… per signing secret>"
    );

    // A mapping a kind cannot send says why.
    let contact_less = preview(
        preview_hubspot_again(&mut router).await,
        r#"{"first": "x"}"#,
    )
    .await;
    assert_eq!(
        contact_less.error,
        "the mapped contact has no `email` to upsert by"
    );
}

async fn preview_hubspot_again(
    router: &mut proto::router_service_client::RouterServiceClient<
        switchyard_client::AuthedChannel,
    >,
) -> String {
    connection(
        router,
        proto::CreateConnectionRequest {
            name: "crm2".into(),
            destination: Some(proto::create_connection_request::Destination::Hubspot(
                proto::HubspotConfig {
                    token: "pat-na1-secret".into(),
                    ..Default::default()
                },
            )),
            policy: None,
        },
    )
    .await
}
