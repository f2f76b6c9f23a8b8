//! TestRule and TestEvent through gRPC: saved and unsaved rules against a
//! sample payload, and every rule of the workspace explained.

use crate::common;

use common::{Harness, connection, create_rule, new_rule};
use serde_json::json;
use switchyard_client::proto;
use tonic::Code;

#[tokio::test]
async fn test_rule_runs_saved_and_unsaved_rules() {
    let harness = Harness::new().await;
    let router = harness.start_router().await;
    let client = &router.client;
    let crm = connection(client, "crm").await;
    let saved = create_rule(
        client,
        proto::CreateRuleRequest {
            condition: r#"event.payload.source == "ads""#.into(),
            mapping: r#"{"email": event.payload.email.lowerAscii(), "type": event.type}"#.into(),
            ..new_rule("lead.*", &crm)
        },
    )
    .await;
    let run =
        |rule: proto::test_rule_request::Rule, event_type: &str, payload: serde_json::Value| {
            let mut router = client.router.clone();
            let request = proto::TestRuleRequest {
                rule: Some(rule),
                event_type: event_type.to_string(),
                payload_json: payload.to_string(),
            };
            async move { router.test_rule(request).await.map(|r| r.into_inner()) }
        };
    let by_id = proto::test_rule_request::Rule::RuleId(saved.id.clone());

    let matched = run(
        by_id.clone(),
        "lead.updated",
        json!({"source": "ads", "email": "A@B.C"}),
    )
    .await
    .expect("run");
    assert!(matched.matched);
    let body: serde_json::Value = serde_json::from_str(&matched.body_json).expect("json body");
    assert_eq!(body, json!({"email": "a@b.c", "type": "lead.updated"}));

    let other_source = run(by_id.clone(), "lead.created", json!({"source": "seo"}))
        .await
        .expect("run");
    assert!(!other_source.matched);
    assert_eq!(other_source.reason, "condition false");

    let other_type = run(by_id.clone(), "invoice.paid", json!({"source": "ads"}))
        .await
        .expect("run");
    assert_eq!(other_type.reason, "event type does not match");

    let failing = run(by_id, "lead.created", json!({"source": "ads"}))
        .await
        .expect("run");
    assert!(!failing.matched);
    assert_eq!(failing.error, "mapping: no such key: email");

    let spec = proto::test_rule_request::Rule::Spec(proto::RuleSpec {
        event_type: "*".into(),
        condition: String::new(),
        mapping: String::new(),
        ordering_key: String::new(),
    });
    let as_is = run(spec, "invoice.paid", json!({"total": 5}))
        .await
        .expect("run");
    assert!(as_is.matched);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&as_is.body_json).expect("json"),
        json!({"total": 5})
    );

    let invalid = proto::test_rule_request::Rule::Spec(proto::RuleSpec {
        event_type: "*".into(),
        condition: "event.payload.a ==".into(),
        mapping: String::new(),
        ordering_key: String::new(),
    });
    let status = run(invalid, "invoice.paid", json!({}))
        .await
        .expect_err("invalid");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("condition: 1:"),
        "{}",
        status.message()
    );

    let not_object = run(
        proto::test_rule_request::Rule::RuleId(saved.id),
        "lead.created",
        json!([1]),
    )
    .await
    .expect_err("payload must be an object");
    assert_eq!(not_object.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn test_event_explains_every_rule() {
    let harness = Harness::new().await;
    let router = harness.start_router().await;
    let client = &router.client;
    let crm = connection(client, "crm").await;
    let gone = connection(client, "gone").await;
    let matching = create_rule(
        client,
        proto::CreateRuleRequest {
            mapping: r#"{"who": event.payload.email}"#.into(),
            ..new_rule("lead.created", &crm)
        },
    )
    .await;
    let other_type = create_rule(client, new_rule("invoice.*", &crm)).await;
    let disabled = create_rule(
        client,
        proto::CreateRuleRequest {
            enabled: Some(false),
            ..new_rule("lead.created", &crm)
        },
    )
    .await;
    let condition_false = create_rule(
        client,
        proto::CreateRuleRequest {
            condition: "event.payload.amount > 100".into(),
            ..new_rule("*", &crm)
        },
    )
    .await;
    let failing = create_rule(
        client,
        proto::CreateRuleRequest {
            condition: "event.payload.missing == 1".into(),
            ..new_rule("lead.*", &crm)
        },
    )
    .await;
    let orphan = create_rule(client, new_rule("lead.created", &gone)).await;
    // Deleting a connection deletes its rules; a rule whose connection went
    // away under it (a race) is explained all the same.
    harness
        .pool
        .get()
        .await
        .expect("client")
        .execute(
            "UPDATE connections SET deleted_at = now() WHERE id = $1",
            &[&switchyard_core::ids::ConnectionId::parse(&gone)
                .expect("id")
                .as_uuid()],
        )
        .await
        .expect("delete connection");

    let outcomes = client
        .router
        .clone()
        .test_event(proto::TestEventRequest {
            event_type: "lead.created".into(),
            payload_json: json!({"email": "ada@example.com", "amount": 5}).to_string(),
        })
        .await
        .expect("test event")
        .into_inner()
        .outcomes;
    let by_id = |id: &str| {
        outcomes
            .iter()
            .find(|o| o.rule_id == id)
            .cloned()
            .expect("explained")
    };
    assert_eq!(outcomes.len(), 6);

    let hit = by_id(&matching.id);
    assert!(hit.matched);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&hit.body_json).expect("json"),
        json!({"who": "ada@example.com"})
    );
    assert_eq!(hit.connection_id, crm);
    assert_eq!(by_id(&other_type.id).reason, "event type does not match");
    assert_eq!(by_id(&disabled.id).reason, "disabled");
    assert_eq!(by_id(&condition_false.id).reason, "condition false");
    let failed = by_id(&failing.id);
    assert!(!failed.matched);
    assert_eq!(failed.error, "condition: no such key: missing");
    assert_eq!(by_id(&orphan.id).reason, "connection deleted");
}
