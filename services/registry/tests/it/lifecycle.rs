//! Versions by number, deprecation, and the InvalidArgument cases of
//! registration not covered elsewhere (nesting depth).

use crate::support;

use support::{TestApp, expect_error};
use switchyard_proto::v1::{
    DeprecateEventTypeRequest, GetSchemaVersionRequest, ListEventTypesRequest,
    ValidatePayloadRequest,
};
use tonic::Code;

const V1: &str = r#"{"type": "object", "properties": {"id": {"type": "string"}}}"#;
const V2: &str = r#"{"type": "object", "title": "v2", "properties": {"id": {"type": "string"}}}"#;

fn version(event_type: &str, version: u32) -> GetSchemaVersionRequest {
    GetSchemaVersionRequest {
        event_type: event_type.to_string(),
        version,
    }
}

fn deprecate(deprecated: bool, reason: &str) -> DeprecateEventTypeRequest {
    DeprecateEventTypeRequest {
        event_type: "lead.created".to_string(),
        deprecated,
        reason: reason.to_string(),
    }
}

#[tokio::test]
async fn versions_are_fetched_by_number() {
    let app = TestApp::spawn().await;
    let mut client = app.client.clone();
    app.register("lead.created", V1).await;
    app.register("lead.created", V2).await;

    for (asked, expected, title) in [(1, 1, None), (2, 2, Some("v2")), (0, 2, Some("v2"))] {
        let response = client
            .get_schema_version(app.request(version("lead.created", asked)))
            .await
            .expect("version")
            .into_inner();
        assert_eq!(response.event_type, "lead.created");
        let schema_version = response.schema_version.expect("version");
        assert_eq!(schema_version.version, expected);
        assert!(schema_version.created_at.is_some());
        let document: serde_json::Value =
            serde_json::from_str(&schema_version.json_schema).expect("json");
        assert_eq!(document["title"].as_str(), title);
    }

    let status = expect_error(
        client
            .get_schema_version(app.request(version("lead.created", 3)))
            .await,
        Code::NotFound,
    );
    assert_eq!(
        status.message(),
        "event type `lead.created` has no version 3"
    );
    let status = expect_error(
        client
            .get_schema_version(app.request(version("lead.updated", 0)))
            .await,
        Code::NotFound,
    );
    assert_eq!(
        status.message(),
        "event type `lead.updated` is not registered"
    );
    let status = expect_error(
        client
            .get_schema_version(app.request(version("Lead", 1)))
            .await,
        Code::InvalidArgument,
    );
    assert!(
        status.message().starts_with("event_type: "),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn deprecated_types_still_validate_and_say_so() {
    let app = TestApp::spawn().await;
    let mut client = app.client.clone();
    app.register("lead.created", V1).await;
    let validate = || {
        app.request(ValidatePayloadRequest {
            event_type: "lead.created".to_string(),
            schema_version: 0,
            payload_json: r#"{"id": "lead_1"}"#.to_string(),
        })
    };
    let before = client
        .validate_payload(validate())
        .await
        .expect("validated")
        .into_inner();
    assert!(before.valid && !before.deprecated);

    let marked = client
        .deprecate_event_type(app.request(deprecate(true, "use lead.captured")))
        .await
        .expect("deprecated")
        .into_inner()
        .event_type
        .expect("type");
    assert!(marked.deprecated);
    assert_eq!(marked.deprecation_reason, "use lead.captured");
    let first_time = marked.deprecated_at.expect("deprecated_at");

    // The change is visible at once on the replica that made it.
    let after = client
        .validate_payload(validate())
        .await
        .expect("validated")
        .into_inner();
    assert!(after.valid && after.deprecated);
    let listed = client
        .list_event_types(app.request(ListEventTypesRequest::default()))
        .await
        .expect("listed")
        .into_inner();
    assert!(listed.event_types[0].deprecated);

    // Deprecating again keeps the first time; lifting clears everything.
    let again = client
        .deprecate_event_type(app.request(deprecate(true, "really, use lead.captured")))
        .await
        .expect("deprecated")
        .into_inner()
        .event_type
        .expect("type");
    assert_eq!(again.deprecated_at, Some(first_time));
    assert_eq!(again.deprecation_reason, "really, use lead.captured");
    let lifted = client
        .deprecate_event_type(app.request(deprecate(false, "ignored")))
        .await
        .expect("lifted")
        .into_inner()
        .event_type
        .expect("type");
    assert!(!lifted.deprecated);
    assert_eq!(
        (lifted.deprecation_reason.as_str(), lifted.deprecated_at),
        ("", None)
    );
    let restored = client
        .validate_payload(validate())
        .await
        .expect("validated")
        .into_inner();
    assert!(!restored.deprecated);

    let status = expect_error(
        client
            .deprecate_event_type(app.request(deprecate(true, &"x".repeat(1001))))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(status.message(), "reason: is longer than 1000 characters");
    let status = expect_error(
        client
            .deprecate_event_type(app.request(DeprecateEventTypeRequest {
                event_type: "lead.updated".to_string(),
                ..deprecate(true, "")
            }))
            .await,
        Code::NotFound,
    );
    assert_eq!(
        status.message(),
        "event type `lead.updated` is not registered"
    );
}

#[tokio::test]
async fn schemas_nested_too_deep_are_invalid_arguments() {
    let app = TestApp::spawn().await;
    let levels = 65;
    let deep = format!(
        "{}{{}}{}",
        r#"{"not":"#.repeat(levels - 1),
        "}".repeat(levels - 1)
    );
    let status = expect_error(
        app.client
            .clone()
            .register_schema(app.request(switchyard_proto::v1::RegisterSchemaRequest {
                event_type: "lead.created".to_string(),
                json_schema: deep,
                ..Default::default()
            }))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(
        status.message(),
        "json_schema: nests objects and arrays deeper than 64 levels"
    );
    assert_eq!(app.count("event_types").await, 0);
}
