//! The audit log end to end: every admin change of the registry, router and
//! delivery services leaves one entry — who, which RPC, which resource,
//! before and after — readable through `ListAuditEvents`, page by page.
//! Failed changes and unchanged re-registrations leave none, and no secret
//! (a credential header's value, a `whsec_` signing secret) reaches the log.

use std::collections::HashMap;

use serde_json::Value;
use switchyard::receiver::Behaviour;
use switchyard_client::proto;
use switchyard_client::proto::workspace_service_client::WorkspaceServiceClient;
use switchyard_tenancy::auth::keys::visible_prefix;
use switchyard_tests::{LEAD_CREATED, TestStack, lead_schema};
use tonic::Code;

const PLANTED: &str = "planted-secret-123";

fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii"),
    );
    request
}

/// Every entry (of `resource` when not empty), newest first, read
/// `page_size` at a time; also returns how many pages it took.
async fn audit_events(
    stack: &TestStack,
    resource: &str,
    page_size: u32,
) -> anyhow::Result<(Vec<proto::AuditEvent>, usize)> {
    let endpoint = stack.stack.endpoints().registry;
    let mut workspaces = WorkspaceServiceClient::connect(endpoint).await?;
    let (mut events, mut pages, mut page_token) = (Vec::new(), 0, String::new());
    loop {
        let request = proto::ListAuditEventsRequest {
            page_size,
            page_token,
            resource: resource.to_string(),
        };
        let page = workspaces
            .list_audit_events(authorized(request, &stack.api_key))
            .await?
            .into_inner();
        pages += 1;
        events.extend(page.events);
        if page.next_page_token.is_empty() {
            return Ok((events, pages));
        }
        page_token = page.next_page_token;
    }
}

/// The whole audit table as text, straight from Postgres.
async fn audit_table_text(stack: &TestStack) -> anyhow::Result<String> {
    let client = stack.pool.get().await?;
    let row = client
        .query_one(
            "SELECT coalesce(string_agg(a::text, E'\\n'), '') FROM audit_events a",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

async fn audit_rows(stack: &TestStack) -> anyhow::Result<i64> {
    stack.count("SELECT count(*) FROM audit_events").await
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("not JSON ({error}): {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_admin_change_is_audited_without_secrets() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let actor = visible_prefix(&stack.api_key);
    assert!(stack.api_key.starts_with(&actor) && actor.len() < stack.api_key.len());

    // Registry: a registration, an unchanged one (no entry), a mode change.
    stack.register_lead_schema().await?;
    let again = stack
        .client
        .register_schema(LEAD_CREATED, &lead_schema(), "a lead")
        .await?;
    assert!(again.unchanged);
    let compatibility = proto::SetCompatibilityRequest {
        event_type: LEAD_CREATED.to_string(),
        compatibility: proto::Compatibility::None as i32,
    };
    stack
        .client
        .registry
        .clone()
        .set_compatibility(compatibility)
        .await?;

    // Router: a connection with a credential header, which always fails.
    let receiver = switchyard::receiver::Receiver::start(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        Behaviour {
            default_status: 503,
            ..Behaviour::default()
        },
    )
    .await?;
    let headers = HashMap::from([
        ("Authorization".to_string(), format!("Bearer {PLANTED}")),
        ("X-Team".to_string(), "growth".to_string()),
    ]);
    let connection = stack
        .client
        .create_webhook("crm", &receiver.url("/hook"), headers)
        .await?;
    assert!(connection.signing_secret.starts_with("whsec_"));
    let mut router = stack.client.router.clone();

    // A failed change leaves no entry.
    let rows_before_failure = audit_rows(&stack).await?;
    let invalid = proto::UpdateConnectionRequest {
        id: connection.id.clone(),
        name: Some("never".to_string()),
        webhook: Some(proto::WebhookConfig {
            url: "not a url".to_string(),
            headers: HashMap::new(),
        }),
        ..Default::default()
    };
    let status = router
        .update_connection(invalid)
        .await
        .expect_err("an invalid URL is refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(audit_rows(&stack).await?, rows_before_failure);

    let rename = proto::UpdateConnectionRequest {
        id: connection.id.clone(),
        name: Some("crm-renamed".to_string()),
        ..Default::default()
    };
    router.update_connection(rename).await?;
    let rule = stack
        .client
        .create_rule(LEAD_CREATED, &connection.id)
        .await?;

    // Delivery: two events die; one is retried, the rest replayed.
    let mut event_ids = Vec::new();
    for n in 0..2 {
        let payload = serde_json::json!({"id": format!("lead_{n}"), "email": "ada@example.com"});
        event_ids.push(stack.client.emit(LEAD_CREATED, &payload).await?.event_id);
    }
    let mut dead = Vec::new();
    for event_id in &event_ids {
        let history = stack.final_deliveries(event_id, 1).await?;
        let delivery = history[0].delivery.clone().unwrap_or_default();
        assert_eq!(delivery.status, proto::DeliveryStatus::Dead as i32);
        dead.push(delivery.id);
    }
    let mut deliveries = stack.client.delivery.clone();
    deliveries
        .retry_delivery(proto::RetryDeliveryRequest {
            id: dead[0].clone(),
        })
        .await?;

    // Pause; a replay of a paused connection fails and leaves no entry.
    router
        .pause_connection(proto::PauseConnectionRequest {
            id: connection.id.clone(),
        })
        .await?;
    let rows_before_failure = audit_rows(&stack).await?;
    let replay = proto::ReplayDeadLettersRequest {
        connection_id: connection.id.clone(),
        ..Default::default()
    };
    let status = deliveries
        .replay_dead_letters(replay.clone())
        .await
        .expect_err("a paused connection is not replayed");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(audit_rows(&stack).await?, rows_before_failure);
    router
        .resume_connection(proto::ResumeConnectionRequest {
            id: connection.id.clone(),
        })
        .await?;
    let replayed = deliveries
        .replay_dead_letters(replay)
        .await?
        .into_inner()
        .replayed_count;
    assert!(replayed >= 1, "the second delivery was dead");

    let rotated = stack
        .client
        .rotate_signing_secret(&connection.id, None)
        .await?;
    assert!(rotated.signing_secret.starts_with("whsec_"));

    let describe = proto::UpdateRuleRequest {
        id: rule.id.clone(),
        description: Some("to the CRM".to_string()),
        ..Default::default()
    };
    router.update_rule(describe).await?;
    router
        .delete_rule(proto::DeleteRuleRequest {
            id: rule.id.clone(),
        })
        .await?;
    let deprecate = proto::DeprecateEventTypeRequest {
        event_type: LEAD_CREATED.to_string(),
        deprecated: true,
        reason: "use lead.registered".to_string(),
    };
    stack
        .client
        .registry
        .clone()
        .deprecate_event_type(deprecate)
        .await?;
    router
        .delete_connection(proto::DeleteConnectionRequest {
            id: connection.id.clone(),
        })
        .await?;

    // Read back three at a time: the same entries as one big page.
    let (paged, pages) = audit_events(&stack, "", 3).await?;
    let (whole, _) = audit_events(&stack, "", 500).await?;
    let ids =
        |events: &[proto::AuditEvent]| events.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&paged), ids(&whole));
    assert!(
        paged.len() > 3 && pages >= paged.len().div_ceil(3),
        "{pages} pages"
    );
    let mut chronological: Vec<proto::AuditEvent> = paged
        .into_iter()
        .filter(|event| !event.action.starts_with("WorkspaceService/"))
        .collect();
    chronological.reverse();
    let con = connection.id.as_str();
    let expected = [
        ("RegistryService/RegisterSchema", LEAD_CREATED),
        ("RegistryService/SetCompatibility", LEAD_CREATED),
        ("RouterService/CreateConnection", con),
        ("RouterService/UpdateConnection", con),
        ("RouterService/CreateRule", rule.id.as_str()),
        ("DeliveryService/RetryDelivery", dead[0].as_str()),
        ("RouterService/PauseConnection", con),
        ("RouterService/ResumeConnection", con),
        ("DeliveryService/ReplayDeadLetters", con),
        ("RouterService/RotateSigningSecret", con),
        ("RouterService/UpdateRule", rule.id.as_str()),
        ("RouterService/DeleteRule", rule.id.as_str()),
        ("RegistryService/DeprecateEventType", LEAD_CREATED),
        ("RouterService/DeleteConnection", con),
    ];
    let found: Vec<(&str, &str)> = chronological
        .iter()
        .map(|event| (event.action.as_str(), event.resource.as_str()))
        .collect();
    assert_eq!(found, expected);
    for event in &chronological {
        assert_eq!(event.actor, actor, "{}", event.action);
        assert!(event.at.is_some(), "{}", event.action);
    }
    let entry = |action: &str| -> (Value, Value) {
        let event = chronological
            .iter()
            .find(|event| event.action == action)
            .unwrap_or_else(|| panic!("no {action}"));
        let before = (!event.before_json.is_empty()).then(|| json(&event.before_json));
        let after = (!event.after_json.is_empty()).then(|| json(&event.after_json));
        (before.unwrap_or(Value::Null), after.unwrap_or(Value::Null))
    };

    let (before, after) = entry("RegistryService/RegisterSchema");
    assert_eq!(before, Value::Null);
    assert_eq!(after["event_type"], LEAD_CREATED);
    assert_eq!(after["version"], 1);
    assert_eq!(after["unchanged"], false);
    let (before, after) = entry("RegistryService/SetCompatibility");
    assert_eq!(before["compatibility"], "backward");
    assert_eq!(after["compatibility"], "none");

    let (before, after) = entry("RouterService/CreateConnection");
    assert_eq!(before, Value::Null);
    assert_eq!(after["name"], "crm");
    assert_eq!(after["webhook"]["headers"]["X-Team"], "growth");
    assert_ne!(after["webhook"]["headers"]["Authorization"], Value::Null);
    let (before, after) = entry("RouterService/UpdateConnection");
    assert_eq!(before["name"], "crm");
    assert_eq!(after["name"], "crm-renamed");
    let (before, after) = entry("RouterService/PauseConnection");
    assert_eq!(
        (&before["state"], &after["state"]),
        (&"active".into(), &"paused".into())
    );
    let (before, after) = entry("RouterService/ResumeConnection");
    assert_eq!(
        (&before["state"], &after["state"]),
        (&"paused".into(), &"active".into())
    );
    let (before, after) = entry("RouterService/RotateSigningSecret");
    assert_eq!(before["id"], con);
    assert!(after["previous_expires_at"].is_string(), "{after}");
    let (before, after) = entry("RouterService/DeleteConnection");
    assert_eq!(before["name"], "crm-renamed");
    assert_eq!(after, Value::Null);

    let (before, after) = entry("RouterService/CreateRule");
    assert_eq!(before, Value::Null);
    assert_eq!(after["event_type"], LEAD_CREATED);
    assert_eq!(after["connection_id"], con);
    let (before, after) = entry("RouterService/UpdateRule");
    assert_eq!(before["description"], "");
    assert_eq!(after["description"], "to the CRM");
    let (before, after) = entry("RouterService/DeleteRule");
    assert_eq!(before["id"], rule.id.as_str());
    assert_eq!(after, Value::Null);

    let (_, after) = entry("DeliveryService/RetryDelivery");
    assert_eq!(after["requeued_count"], 1);
    let (_, after) = entry("DeliveryService/ReplayDeadLetters");
    assert_eq!(after["requeued_count"], replayed);
    let (_, after) = entry("RegistryService/DeprecateEventType");
    assert_eq!(after["deprecated"], true);
    assert_eq!(after["deprecation_reason"], "use lead.registered");

    // A resource's own history.
    let (of_connection, _) = audit_events(&stack, con, 2).await?;
    assert_eq!(of_connection.len(), 7);
    assert!(of_connection.iter().all(|event| event.resource == con));

    // No secret anywhere: not in the API's JSON, not in the table.
    let table = audit_table_text(&stack).await?;
    assert!(table.contains(con), "the table text holds the entries");
    for event in &whole {
        let text = format!("{} {}", event.before_json, event.after_json);
        assert!(!text.contains(PLANTED), "{}: {text}", event.action);
        assert!(!text.contains("whsec_"), "{}: {text}", event.action);
    }
    for secret in [
        PLANTED,
        "whsec_",
        &connection.signing_secret,
        &rotated.signing_secret,
    ] {
        assert!(!table.contains(secret), "{secret} is in the audit table");
    }
    stack.stop().await
}
