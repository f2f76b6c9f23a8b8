//! ValidatePayload against the real service.

use crate::support;

use support::{TestApp, expect_error};
use switchyard_proto::v1::{
    Compatibility, ValidatePayloadRequest, ValidatePayloadResponse, Violation,
};
use tonic::Code;

const CONTACT_V1: &str = r#"{
    "type": "object",
    "required": ["id", "email"],
    "properties": {
        "id": {"type": "string"},
        "email": {"type": "string", "format": "email"},
        "age": {"type": "integer", "minimum": 0}
    }
}"#;
/// v2 also requires `name`.
const CONTACT_V2: &str = r#"{
    "type": "object",
    "required": ["id", "email", "name"],
    "properties": {"id": {"type": "string"}, "email": {"type": "string", "format": "email"}}
}"#;

async fn validate(
    app: &TestApp,
    event_type: &str,
    schema_version: u32,
    payload: &str,
) -> Result<ValidatePayloadResponse, tonic::Status> {
    app.client
        .clone()
        .validate_payload(app.request(ValidatePayloadRequest {
            event_type: event_type.to_string(),
            schema_version,
            payload_json: payload.to_string(),
        }))
        .await
        .map(tonic::Response::into_inner)
}

fn find<'a>(violations: &'a [Violation], keyword: &str) -> &'a Violation {
    violations
        .iter()
        .find(|violation| violation.keyword == keyword)
        .unwrap_or_else(|| panic!("no `{keyword}` violation in {violations:?}"))
}

#[tokio::test]
async fn every_violation_is_reported_with_its_paths() {
    let app = TestApp::spawn().await;
    app.register("contact.created", CONTACT_V1).await;

    let response = validate(
        &app,
        "contact.created",
        0,
        r#"{"email": "not-an-email", "age": "old"}"#,
    )
    .await
    .expect("a normal response, not an error");
    assert!(!response.valid);
    assert!(!response.truncated);
    assert_eq!(response.schema_version, 1);
    assert_eq!(response.violations.len(), 3, "{:?}", response.violations);

    let required = find(&response.violations, "required");
    assert_eq!(required.instance_path, "");
    assert_eq!(required.schema_path, "/required");
    assert!(required.message.contains("\"id\""), "{}", required.message);

    let format = find(&response.violations, "format");
    assert_eq!(format.instance_path, "/email");
    assert_eq!(format.schema_path, "/properties/email/format");
    assert!(format.message.contains("email"), "{}", format.message);

    let wrong_type = find(&response.violations, "type");
    assert_eq!(wrong_type.instance_path, "/age");
    assert_eq!(wrong_type.schema_path, "/properties/age/type");
    assert!(
        wrong_type.message.contains("integer"),
        "{}",
        wrong_type.message
    );

    let valid = validate(
        &app,
        "contact.created",
        0,
        r#"{"id": "c_1", "email": "ada@example.com"}"#,
    )
    .await
    .expect("validated");
    assert!(valid.valid);
    assert!(valid.violations.is_empty());
}

#[tokio::test]
async fn a_pinned_version_is_used_instead_of_the_latest() {
    let app = TestApp::spawn().await;
    // v2 requires `name`, which BACKWARD (the default) would refuse.
    assert_eq!(
        app.register_with("contact.created", CONTACT_V1, Compatibility::None)
            .await,
        1
    );
    assert_eq!(app.register("contact.created", CONTACT_V2).await, 2);
    let payload = r#"{"id": "c_1", "email": "ada@example.com"}"#;

    let latest = validate(&app, "contact.created", 0, payload)
        .await
        .expect("latest");
    assert_eq!(latest.schema_version, 2);
    assert!(!latest.valid);
    assert_eq!(
        find(&latest.violations, "required").message,
        r#""name" is a required property"#
    );

    let pinned = validate(&app, "contact.created", 1, payload)
        .await
        .expect("pinned");
    assert_eq!(pinned.schema_version, 1);
    assert!(pinned.valid, "{:?}", pinned.violations);

    let status = expect_error(
        validate(&app, "contact.created", 7, payload).await,
        Code::NotFound,
    );
    assert_eq!(
        status.message(),
        "event type `contact.created` has no version 7"
    );
}

#[tokio::test]
async fn unknown_types_and_bad_input_are_errors() {
    let app = TestApp::spawn().await;
    let status = expect_error(
        validate(&app, "lead.created", 0, "{}").await,
        Code::NotFound,
    );
    assert_eq!(
        status.message(),
        "event type `lead.created` is not registered"
    );
    let status = expect_error(
        validate(&app, "lead.created", 3, "{}").await,
        Code::NotFound,
    );
    assert_eq!(
        status.message(),
        "event type `lead.created` is not registered"
    );

    let status = expect_error(
        validate(&app, "lead created", 0, "{}").await,
        Code::InvalidArgument,
    );
    assert!(
        status.message().starts_with("event_type: "),
        "{}",
        status.message()
    );

    app.register("lead.created", r#"{"type": "object"}"#).await;
    let status = expect_error(
        validate(&app, "lead.created", 0, "{oops").await,
        Code::InvalidArgument,
    );
    assert!(
        status
            .message()
            .starts_with("payload_json: is not valid JSON: "),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn violations_are_capped_at_one_hundred() {
    let app = TestApp::spawn().await;
    app.register(
        "batch.imported",
        r#"{"type": "array", "items": {"type": "string"}}"#,
    )
    .await;
    let payload = serde_json::to_string(&(0..150).collect::<Vec<u32>>()).expect("json");
    let response = validate(&app, "batch.imported", 0, &payload)
        .await
        .expect("validated");
    assert!(!response.valid);
    assert!(response.truncated);
    assert_eq!(response.violations.len(), 100);
    assert_eq!(response.violations[0].instance_path, "/0");
}

#[tokio::test]
async fn a_restarted_service_compiles_stored_schemas_again() {
    // The first app warmed its cache at registration; a second app on the
    // same database starts cold and must read and compile the stored schema.
    let app = TestApp::spawn().await;
    app.register("contact.created", CONTACT_V1).await;
    let cold = app.restarted().await;
    let response = validate(
        &cold,
        "contact.created",
        1,
        r#"{"id": "c_1", "email": "nope"}"#,
    )
    .await
    .expect("validated");
    assert_eq!(response.violations.len(), 1);
    assert_eq!(response.violations[0].keyword, "format");
}

#[tokio::test]
async fn a_warm_call_needs_no_query_until_a_change_is_notified() {
    let app = TestApp::spawn().await;
    app.wait_for_listeners(1).await;
    app.register("contact.created", CONTACT_V1).await;
    // The registration's own notification comes back to this replica too
    // and empties the head it finds; let it land before warming.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let payload = r#"{"id": "c_1", "email": "ada@example.com"}"#;
    let warm = validate(&app, "contact.created", 0, payload)
        .await
        .expect("validated");
    assert_eq!(warm.schema_version, 1);

    // Pull the rows out from under the warm caches, silently: only a lookup
    // that goes to Postgres can notice.
    let client = app.pool.get().await.expect("connection");
    client
        .batch_execute("DELETE FROM event_types")
        .await
        .expect("deleted");
    for version in [0, 1] {
        let cached = validate(&app, "contact.created", version, payload)
            .await
            .expect("served from the caches");
        assert!(cached.valid);
        assert_eq!(cached.schema_version, 1);
    }

    // A notification (as any change sends) makes the latest go to Postgres.
    let workspace = app.workspace_id().await;
    client
        .execute(
            "SELECT pg_notify('switchyard_registry', $1)",
            &[&format!("{workspace}/contact.created")],
        )
        .await
        .expect("notified");
    let status = app
        .eventually(|| async {
            validate(&app, "contact.created", 0, payload)
                .await
                .err()
                .filter(|status| status.code() == Code::NotFound)
        })
        .await;
    assert_eq!(
        status.message(),
        "event type `contact.created` is not registered"
    );
}
