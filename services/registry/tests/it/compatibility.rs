//! Compatibility over gRPC: refusals with every incompatibility (message
//! and PreconditionFailure details), modes per type, the dry run, and
//! transitive modes against stored versions.

use crate::support;

use support::{TestApp, expect_error};
use switchyard_proto::v1::{
    CheckCompatibilityRequest, Compatibility, GetEventTypeRequest, RegisterSchemaRequest,
    SetCompatibilityRequest,
};
use tonic::Code;
use tonic_types::StatusExt;

const LEAD_V1: &str = r#"{
    "type": "object",
    "required": ["id"],
    "properties": {
        "id": {"type": "string"},
        "email": {"type": "string"},
        "amount": {"type": "number"}
    }
}"#;
/// Breaks BACKWARD three ways.
const LEAD_BREAKING: &str = r#"{
    "type": "object",
    "required": ["id", "email"],
    "additionalProperties": false,
    "properties": {
        "id": {"type": "string"},
        "email": {"type": "string"},
        "amount": {"type": "integer"}
    }
}"#;
/// Compatible with v1 both ways: only annotations changed.
const LEAD_ANNOTATED: &str = r#"{
    "type": "object",
    "title": "A lead",
    "required": ["id"],
    "properties": {
        "id": {"type": "string", "description": "lead_…"},
        "email": {"type": "string"},
        "amount": {"type": "number"}
    }
}"#;

fn register(event_type: &str, json_schema: &str, mode: Compatibility) -> RegisterSchemaRequest {
    RegisterSchemaRequest {
        event_type: event_type.to_string(),
        json_schema: json_schema.to_string(),
        description: String::new(),
        compatibility: mode.into(),
    }
}

fn set(event_type: &str, mode: Compatibility) -> SetCompatibilityRequest {
    SetCompatibilityRequest {
        event_type: event_type.to_string(),
        compatibility: mode.into(),
    }
}

#[tokio::test]
async fn a_breaking_schema_is_refused_with_every_incompatibility() {
    let app = TestApp::spawn().await;
    let mut client = app.client.clone();
    assert_eq!(app.register("lead.created", LEAD_V1).await, 1);

    let status = expect_error(
        client
            .register_schema(app.request(register(
                "lead.created",
                LEAD_BREAKING,
                Compatibility::Unspecified,
            )))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(
        status.message(),
        "json_schema breaks the BACKWARD compatibility of `lead.created` with version 1: \
         /properties/email: became required; \
         /properties/amount/type: narrowed from number to integer; \
         /additionalProperties: closed"
    );
    let details = status.get_error_details();
    let failure = details
        .precondition_failure()
        .expect("precondition failure details");
    let listed: Vec<(&str, &str, &str)> = failure
        .violations
        .iter()
        .map(|v| {
            (
                v.r#type.as_str(),
                v.subject.as_str(),
                v.description.as_str(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (
                "SCHEMA_BACKWARD",
                "/properties/email",
                "became required (version 1)"
            ),
            (
                "SCHEMA_BACKWARD",
                "/properties/amount/type",
                "narrowed from number to integer (version 1)"
            ),
            (
                "SCHEMA_BACKWARD",
                "/additionalProperties",
                "closed (version 1)"
            ),
        ]
    );
    assert_eq!(app.count("event_type_versions").await, 1);

    let compatible = client
        .register_schema(app.request(register(
            "lead.created",
            LEAD_ANNOTATED,
            Compatibility::Unspecified,
        )))
        .await
        .expect("compatible")
        .into_inner();
    assert_eq!((compatible.version, compatible.unchanged), (2, false));
    assert_eq!(compatible.compatibility, Compatibility::Backward as i32);
}

#[tokio::test]
async fn modes_are_chosen_at_creation_and_changed_explicitly() {
    let app = TestApp::spawn().await;
    let mut client = app.client.clone();
    app.register_with("lead.created", LEAD_V1, Compatibility::Forward)
        .await;
    let get = || {
        app.request(GetEventTypeRequest {
            event_type: "lead.created".to_string(),
        })
    };
    let created = client
        .get_event_type(get())
        .await
        .expect("get")
        .into_inner();
    assert_eq!(
        created.event_type.expect("type").compatibility,
        Compatibility::Forward as i32
    );

    // FORWARD: v1 must read what the new schema writes; the breaking schema
    // only narrows, so it passes, and a push naming another mode is refused.
    let status = expect_error(
        client
            .register_schema(app.request(register(
                "lead.created",
                LEAD_BREAKING,
                Compatibility::None,
            )))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(
        status.message(),
        "event type `lead.created` has compatibility FORWARD, not NONE; change it with SetCompatibility first"
    );
    let forward = client
        .register_schema(app.request(register(
            "lead.created",
            LEAD_BREAKING,
            Compatibility::Forward,
        )))
        .await
        .expect("forward compatible")
        .into_inner();
    assert_eq!(forward.version, 2);

    // Back to v1 widens again: FORWARD refuses, NONE takes it.
    expect_error(
        client
            .register_schema(app.request(register(
                "lead.created",
                LEAD_V1,
                Compatibility::Unspecified,
            )))
            .await,
        Code::FailedPrecondition,
    );
    let changed = client
        .set_compatibility(app.request(set("lead.created", Compatibility::None)))
        .await
        .expect("set")
        .into_inner();
    assert_eq!(changed.previous, Compatibility::Forward as i32);
    let summary = changed.event_type.expect("type");
    assert_eq!(
        (summary.compatibility, summary.latest_version),
        (Compatibility::None as i32, 2)
    );
    assert!(summary.versions.is_empty());
    assert_eq!(app.register("lead.created", LEAD_V1).await, 3);

    let status = expect_error(
        client
            .set_compatibility(app.request(set("lead.created", Compatibility::Unspecified)))
            .await,
        Code::InvalidArgument,
    );
    assert!(
        status.message().starts_with("compatibility: is required"),
        "{}",
        status.message()
    );
    let status = expect_error(
        client
            .set_compatibility(app.request(set("order.placed", Compatibility::Full)))
            .await,
        Code::NotFound,
    );
    assert_eq!(
        status.message(),
        "event type `order.placed` is not registered"
    );
    let status = expect_error(
        client
            .set_compatibility(app.request(SetCompatibilityRequest {
                event_type: "lead.created".to_string(),
                compatibility: 42,
            }))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(
        status.message(),
        "compatibility: 42 is not a compatibility mode"
    );
}

#[tokio::test]
async fn check_compatibility_is_a_dry_run() {
    let app = TestApp::spawn().await;
    let mut client = app.client.clone();
    let check = |json_schema: &str, mode: Compatibility| {
        app.request(CheckCompatibilityRequest {
            event_type: "lead.created".to_string(),
            json_schema: json_schema.to_string(),
            compatibility: mode.into(),
        })
    };

    let new_type = client
        .check_compatibility(check(LEAD_V1, Compatibility::Unspecified))
        .await
        .expect("checked")
        .into_inner();
    assert!(new_type.compatible);
    assert_eq!(
        (new_type.latest_version, new_type.checked_versions.len()),
        (0, 0)
    );
    assert_eq!(new_type.compatibility, Compatibility::Backward as i32);
    assert_eq!(
        app.count("event_types").await,
        0,
        "a dry run stores nothing"
    );

    app.register("lead.created", LEAD_V1).await;
    let breaking = client
        .check_compatibility(check(LEAD_BREAKING, Compatibility::Unspecified))
        .await
        .expect("checked")
        .into_inner();
    assert!(!breaking.compatible);
    assert_eq!(breaking.checked_versions, [1]);
    let found: Vec<(&str, &str, u32)> = breaking
        .incompatibilities
        .iter()
        .map(|i| (i.path.as_str(), i.reason.as_str(), i.version))
        .collect();
    assert_eq!(
        found,
        [
            ("/properties/email", "became required", 1),
            (
                "/properties/amount/type",
                "narrowed from number to integer",
                1
            ),
            ("/additionalProperties", "closed", 1),
        ]
    );

    // Another mode than the type's, without changing it.
    let forward = client
        .check_compatibility(check(LEAD_BREAKING, Compatibility::Forward))
        .await
        .expect("checked")
        .into_inner();
    assert!(forward.compatible, "{:?}", forward.incompatibilities);
    assert_eq!(forward.compatibility, Compatibility::Forward as i32);

    let same = client
        .check_compatibility(check(
            &LEAD_V1.replace('\n', " "),
            Compatibility::Unspecified,
        ))
        .await
        .expect("checked")
        .into_inner();
    assert!(same.compatible && same.unchanged);
    assert_eq!(same.latest_version, 1);

    expect_error(
        client
            .check_compatibility(check("{\"type\": 7}", Compatibility::Unspecified))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(app.count("event_type_versions").await, 1);
}

#[tokio::test]
async fn transitive_modes_check_every_stored_version() {
    let app = TestApp::spawn().await;
    let mut client = app.client.clone();
    let closed = |properties: &str| {
        format!(
            r#"{{"type": "object", "additionalProperties": false, "properties": {{{properties}}}}}"#
        )
    };
    let v1 = closed(r#""id": {"type": "string"}, "legacy": {"type": "string"}"#);
    let v2 = closed(r#""id": {"type": "string"}"#);
    let v3 = closed(r#""id": {"type": "string"}, "note": {"type": "string"}"#);
    app.register_with("lead.created", &v1, Compatibility::None)
        .await;
    assert_eq!(app.register("lead.created", &v2).await, 2);

    client
        .set_compatibility(app.request(set("lead.created", Compatibility::BackwardTransitive)))
        .await
        .expect("set");
    let status = expect_error(
        client
            .register_schema(app.request(register("lead.created", &v3, Compatibility::Unspecified)))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(
        status.message(),
        "json_schema breaks the BACKWARD_TRANSITIVE compatibility of `lead.created` with version 1: \
         /properties/legacy: removed from a closed content model"
    );

    client
        .set_compatibility(app.request(set("lead.created", Compatibility::Backward)))
        .await
        .expect("set");
    assert_eq!(app.register("lead.created", &v3).await, 3);
}

#[tokio::test]
async fn equal_schemas_in_other_spellings_are_unchanged() {
    let app = TestApp::spawn().await;
    let mut client = app.client.clone();
    let first = r#"{"type": "object", "properties": {"n": {"type": "integer", "maximum": 1e2, "minimum": 0.0}}}"#;
    let second = r#"{"properties": {"n": {"minimum": 0, "maximum": 100, "type": "integer"}}, "type": "object"}"#;
    assert_eq!(app.register("lead.created", first).await, 1);
    let again = client
        .register_schema(app.request(register("lead.created", second, Compatibility::Unspecified)))
        .await
        .expect("registered")
        .into_inner();
    assert_eq!((again.version, again.unchanged), (1, true));

    let stored = client
        .get_event_type(app.request(GetEventTypeRequest {
            event_type: "lead.created".to_string(),
        }))
        .await
        .expect("get")
        .into_inner()
        .event_type
        .expect("type");
    assert_eq!(
        stored.versions[0].json_schema,
        r#"{"properties":{"n":{"maximum":100,"minimum":0,"type":"integer"}},"type":"object"}"#
    );
}
