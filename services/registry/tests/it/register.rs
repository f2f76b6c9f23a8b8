//! RegisterSchema and GetEventType against the real service.

use crate::support;

use support::{TestApp, expect_error};
use switchyard_proto::v1::{Compatibility, GetEventTypeRequest, RegisterSchemaRequest};
use tonic::Code;

const LEAD_V1: &str =
    r#"{"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}"#;
const LEAD_V2: &str = r#"{"type": "object", "required": ["id", "email"], "properties": {"id": {"type": "string"}, "email": {"type": "string", "format": "email"}}}"#;

fn register_request(
    event_type: &str,
    json_schema: &str,
    description: &str,
) -> RegisterSchemaRequest {
    RegisterSchemaRequest {
        event_type: event_type.to_string(),
        json_schema: json_schema.to_string(),
        description: description.to_string(),
        compatibility: Compatibility::Unspecified.into(),
    }
}

/// As [`register_request`], creating the type without compatibility checks.
fn unchecked(event_type: &str, json_schema: &str, description: &str) -> RegisterSchemaRequest {
    RegisterSchemaRequest {
        compatibility: Compatibility::None.into(),
        ..register_request(event_type, json_schema, description)
    }
}

#[tokio::test]
async fn registering_creates_versions_only_when_the_schema_changes() {
    let app = TestApp::spawn().await;
    let mut client = app.client.clone();

    // v2 makes `email` required, which BACKWARD (the default) refuses.
    let first = client
        .register_schema(app.request(unchecked("lead.created", LEAD_V1, "A new lead")))
        .await
        .expect("v1")
        .into_inner();
    assert_eq!(
        (first.event_type.as_str(), first.version, first.unchanged),
        ("lead.created", 1, false)
    );

    // Same document, different key order and spacing: structurally equal.
    let reordered = r#"{"properties":{"id":{"type":"string"}},"required":["id"],"type":"object"}"#;
    let again = client
        .register_schema(app.request(register_request("lead.created", reordered, "")))
        .await
        .expect("same again")
        .into_inner();
    assert_eq!((again.version, again.unchanged), (1, true));

    let second = client
        .register_schema(app.request(register_request("lead.created", LEAD_V2, "")))
        .await
        .expect("v2")
        .into_inner();
    assert_eq!((second.version, second.unchanged), (2, false));
    assert_eq!(app.count("event_type_versions").await, 2);

    let event_type = client
        .get_event_type(app.request(GetEventTypeRequest {
            event_type: "lead.created".to_string(),
        }))
        .await
        .expect("get")
        .into_inner()
        .event_type
        .expect("event type");
    assert_eq!(event_type.name, "lead.created");
    // The empty description of later registrations kept the first one.
    assert_eq!(event_type.description, "A new lead");
    assert_eq!(event_type.latest_version, 2);
    assert!(event_type.created_at.is_some());
    let versions: Vec<u32> = event_type.versions.iter().map(|v| v.version).collect();
    assert_eq!(versions, [1, 2]);
    for (stored, sent) in event_type.versions.iter().zip([LEAD_V1, LEAD_V2]) {
        let stored_value: serde_json::Value =
            serde_json::from_str(&stored.json_schema).expect("json");
        let sent_value: serde_json::Value = serde_json::from_str(sent).expect("json");
        assert_eq!(stored_value, sent_value);
        assert!(!stored.json_schema.contains('\n') && !stored.json_schema.contains(": "));
        assert!(stored.created_at.is_some());
    }
}

#[tokio::test]
async fn a_non_empty_description_replaces_the_old_one() {
    let app = TestApp::spawn().await;
    let mut client = app.client.clone();
    client
        .register_schema(app.request(register_request("lead.created", LEAD_V1, "first")))
        .await
        .expect("v1");
    let unchanged = client
        .register_schema(app.request(register_request("lead.created", LEAD_V1, "second")))
        .await
        .expect("same schema")
        .into_inner();
    assert!(unchanged.unchanged);
    let event_type = client
        .get_event_type(app.request(GetEventTypeRequest {
            event_type: "lead.created".to_string(),
        }))
        .await
        .expect("get")
        .into_inner()
        .event_type
        .expect("event type");
    assert_eq!(event_type.description, "second");

    let too_long = "x".repeat(1001);
    let status = expect_error(
        client
            .register_schema(app.request(register_request("lead.created", LEAD_V1, &too_long)))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(
        status.message(),
        "description: is longer than 1000 characters"
    );
}

#[tokio::test]
async fn refused_schemas_store_nothing() {
    let app = TestApp::spawn().await;
    let mut client = app.client.clone();
    let cases = [
        (
            "Lead.Created",
            LEAD_V1,
            "event_type: `Lead.Created` must be dot-separated",
        ),
        (
            "lead",
            LEAD_V1,
            "event_type: `lead` needs at least two dot-separated segments",
        ),
        (
            "lead.created",
            r#"{"type": "#,
            "json_schema: is not valid JSON: ",
        ),
        (
            "lead.created",
            "[1, 2]",
            "json_schema: must be a JSON object",
        ),
        (
            "lead.created",
            r#"{"type": 12}"#,
            "json_schema: does not conform to its meta-schema at `/type`: 12 ",
        ),
        (
            "lead.created",
            r#"{"properties": {"a": {"$ref": "https://example.com/a.json"}}}"#,
            "json_schema: remote $ref https://example.com/a.json is not allowed",
        ),
        (
            "lead.created",
            r#"{"$schema": "https://example.com/custom-meta"}"#,
            "json_schema: $schema `https://example.com/custom-meta` is not supported",
        ),
    ];
    for (event_type, json_schema, message) in cases {
        let status = expect_error(
            client
                .register_schema(app.request(register_request(event_type, json_schema, "")))
                .await,
            Code::InvalidArgument,
        );
        assert!(
            status.message().starts_with(message),
            "{json_schema}: {}",
            status.message()
        );
    }

    let oversized = format!(r#"{{"description": "{}"}}"#, "x".repeat(256 * 1024));
    let status = expect_error(
        client
            .register_schema(app.request(register_request("lead.created", &oversized, "")))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(status.message(), "json_schema: is larger than 262144 bytes");

    assert_eq!(app.count("event_types").await, 0);
    assert_eq!(app.count("event_type_versions").await, 0);
    expect_error(
        client
            .get_event_type(app.request(GetEventTypeRequest {
                event_type: "lead.created".to_string(),
            }))
            .await,
        Code::NotFound,
    );
}

#[tokio::test]
async fn draft_07_and_2020_12_schemas_live_side_by_side() {
    let app = TestApp::spawn().await;
    let draft7 = r##"{
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {"money": {"type": "object", "required": ["cents"], "properties": {"cents": {"type": "integer"}}}},
        "type": "object",
        "properties": {"total": {"$ref": "#/definitions/money"}}
    }"##;
    let modern = r##"{
        "$defs": {"money": {"type": "object", "required": ["cents"], "properties": {"cents": {"type": "integer"}}}},
        "type": "object",
        "properties": {"total": {"$ref": "#/$defs/money"}}
    }"##;
    assert_eq!(app.register("invoice.paid", draft7).await, 1);
    assert_eq!(app.register("invoice.sent", modern).await, 1);

    for event_type in ["invoice.paid", "invoice.sent"] {
        let mut client = app.client.clone();
        let validate = |payload: &str| {
            app.request(switchyard_proto::v1::ValidatePayloadRequest {
                event_type: event_type.to_string(),
                schema_version: 0,
                payload_json: payload.to_string(),
            })
        };
        let good = client
            .validate_payload(validate(r#"{"total": {"cents": 100}}"#))
            .await
            .expect("validated")
            .into_inner();
        assert!(good.valid, "{event_type}: {:?}", good.violations);
        let bad = client
            .validate_payload(validate(r#"{"total": {"cents": "100"}}"#))
            .await
            .expect("validated")
            .into_inner();
        assert!(!bad.valid);
        assert_eq!(bad.violations.len(), 1, "{event_type}");
        assert_eq!(bad.violations[0].instance_path, "/total/cents");
        assert_eq!(bad.violations[0].keyword, "type");
    }
}

#[tokio::test]
async fn concurrent_registrations_get_consecutive_versions() {
    let app = TestApp::spawn().await;
    let mut calls = Vec::new();
    for n in 0..8 {
        let mut client = app.client.clone();
        // In random order, so without checks: a lower maximum is a break.
        let request = app.request(unchecked(
            "order.placed",
            &format!(r#"{{"type": "object", "maxProperties": {}}}"#, n + 1),
            "",
        ));
        calls.push(tokio::spawn(async move {
            client.register_schema(request).await
        }));
    }
    let mut versions = Vec::new();
    for call in calls {
        let response = call
            .await
            .expect("joined")
            .expect("registered")
            .into_inner();
        assert!(!response.unchanged);
        versions.push(response.version);
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=8).collect::<Vec<u32>>());
}
