//! Authentication, workspace isolation and ListEventTypes paging against the
//! real service.

use crate::support;

use support::{TestApp, expect_error, with_key};
use switchyard_proto::v1::{
    GetEventTypeRequest, ListEventTypesRequest, ListEventTypesResponse, RegisterSchemaRequest,
    ValidatePayloadRequest,
};
use tonic::{Code, Request};

const SCHEMA: &str = r#"{"type": "object"}"#;

fn get(event_type: &str) -> GetEventTypeRequest {
    GetEventTypeRequest {
        event_type: event_type.to_string(),
    }
}

fn list(page_size: u32, page_token: &str) -> ListEventTypesRequest {
    ListEventTypesRequest {
        page_size,
        page_token: page_token.to_string(),
    }
}

#[tokio::test]
async fn calls_without_a_valid_key_are_unauthenticated() {
    let app = TestApp::spawn().await;
    let mut client = app.client.clone();

    let status = expect_error(
        client
            .get_event_type(Request::new(get("lead.created")))
            .await,
        Code::Unauthenticated,
    );
    assert!(
        status.message().contains("authorization"),
        "{}",
        status.message()
    );

    let status = expect_error(
        client
            .register_schema(with_key(
                "sy_live_not-a-real-key",
                RegisterSchemaRequest {
                    event_type: "lead.created".to_string(),
                    json_schema: SCHEMA.to_string(),
                    description: String::new(),
                    ..Default::default()
                },
            ))
            .await,
        Code::Unauthenticated,
    );
    assert_eq!(status.message(), "the API key is not valid");
    assert_eq!(app.count("event_types").await, 0);

    expect_error(
        client
            .validate_payload(with_key(
                "sy_live_not-a-real-key",
                ValidatePayloadRequest {
                    event_type: "lead.created".to_string(),
                    schema_version: 0,
                    payload_json: "{}".to_string(),
                },
            ))
            .await,
        Code::Unauthenticated,
    );
    expect_error(
        client.list_event_types(Request::new(list(0, ""))).await,
        Code::Unauthenticated,
    );
}

#[tokio::test]
async fn workspaces_do_not_see_each_others_event_types() {
    let app = TestApp::spawn().await;
    app.register("lead.created", SCHEMA).await;
    app.register("lead.created", r#"{"type": "object", "title": "v2"}"#)
        .await;
    let other = app.other_workspace_key("globex").await;
    let mut client = app.client.clone();

    let status = expect_error(
        client
            .get_event_type(with_key(&other, get("lead.created")))
            .await,
        Code::NotFound,
    );
    assert_eq!(
        status.message(),
        "event type `lead.created` is not registered"
    );
    // Version 1 is warm in the cache for `acme`; the key includes the
    // workspace, so `globex` must still miss.
    expect_error(
        client
            .validate_payload(with_key(
                &other,
                ValidatePayloadRequest {
                    event_type: "lead.created".to_string(),
                    schema_version: 1,
                    payload_json: "{}".to_string(),
                },
            ))
            .await,
        Code::NotFound,
    );
    let listed = client
        .list_event_types(with_key(&other, list(0, "")))
        .await
        .expect("listed")
        .into_inner();
    assert!(listed.event_types.is_empty());

    // The same name in another workspace is a separate type starting at 1.
    let registered = client
        .register_schema(with_key(
            &other,
            RegisterSchemaRequest {
                event_type: "lead.created".to_string(),
                json_schema: SCHEMA.to_string(),
                description: String::new(),
                ..Default::default()
            },
        ))
        .await
        .expect("registered")
        .into_inner();
    assert_eq!((registered.version, registered.unchanged), (1, false));
    let own = client
        .get_event_type(app.request(get("lead.created")))
        .await
        .expect("get")
        .into_inner()
        .event_type
        .expect("event type");
    assert_eq!(own.latest_version, 2);
}

#[tokio::test]
async fn listing_pages_through_types_in_name_order() {
    let app = TestApp::spawn().await;
    for name in ["order.placed", "lead.created", "invoice.paid"] {
        app.register(name, SCHEMA).await;
    }
    app.register("lead.created", r#"{"type": "object", "title": "v2"}"#)
        .await;
    let mut client = app.client.clone();

    let mut seen = Vec::new();
    let mut token = String::new();
    for _ in 0..3 {
        let page: ListEventTypesResponse = client
            .list_event_types(app.request(list(1, &token)))
            .await
            .expect("page")
            .into_inner();
        assert_eq!(page.event_types.len(), 1);
        let event_type = &page.event_types[0];
        assert!(
            event_type.versions.is_empty(),
            "listings leave versions out"
        );
        assert!(event_type.created_at.is_some());
        seen.push((event_type.name.clone(), event_type.latest_version));
        token = page.next_page_token;
    }
    assert_eq!(
        seen,
        [
            ("invoice.paid".to_string(), 1),
            ("lead.created".to_string(), 2),
            ("order.placed".to_string(), 1),
        ]
    );
    assert!(token.is_empty(), "the last page has no next token");

    let everything = client
        .list_event_types(app.request(list(0, "")))
        .await
        .expect("default page size")
        .into_inner();
    assert_eq!(everything.event_types.len(), 3);
    assert!(everything.next_page_token.is_empty());

    let status = expect_error(
        client.list_event_types(app.request(list(501, ""))).await,
        Code::InvalidArgument,
    );
    assert_eq!(status.message(), "page_size: must be at most 500");
    let status = expect_error(
        client
            .list_event_types(app.request(list(1, "not a token")))
            .await,
        Code::InvalidArgument,
    );
    assert!(
        status.message().starts_with("page_token: "),
        "{}",
        status.message()
    );
}
