//! The web console against a live stack: the reads it relies on
//! (`GetCaller`, `ListEvents`, `GetEvent`, `GetDeliveryStats`) answer only
//! within the caller's workspace and scope, and — run by
//! `scripts/test.sh`, which installs Chromium and `playwright-core` — the
//! browser test `tests/console/console.test.mjs` drives the pages.
//!
//! The browser test's stack: a workspace with an admin and a read-only
//! key, `lead.created` at schema version 2, and three webhook connections,
//! one of which fails its three attempts (a dead letter) and a manual retry,
//! and succeeds on the fifth attempt (the replay). The script asks for the event on stdout
//! (`@@ emit`) once it watches the live list, and reads its id on stdin.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use switchyard::receiver::{Behaviour, Receiver};
use switchyard_client::{Client, proto};
use switchyard_tenancy::auth::keys::{self, NewKey};
use switchyard_tenancy::auth::{Scope, Scopes};
use switchyard_tests::tokens::{authorized, claims, hs256};
use switchyard_tests::{LEAD_CREATED, TestStack, lead_schema};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

struct Fixture {
    stack: TestStack,
    read_key: String,
    failing: proto::Connection,
    _receivers: Vec<Receiver>,
}

async fn fixture() -> anyhow::Result<Fixture> {
    let stack = TestStack::start_with(&switchyard_tests::Service::ALL, |config| {
        config.console.addr = SocketAddr::from(([127, 0, 0, 1], 0));
    })
    .await?;
    let read_key = key_with(&stack, Scope::Read).await?;
    stack.register_lead_schema().await?;
    let mut v2 = lead_schema();
    // Backward compatible: a constraint relaxed, a description added.
    v2["properties"]["amount"] = serde_json::json!({"type": "number"});
    v2["description"] = serde_json::json!("A sales lead");
    stack
        .client
        .register_schema(LEAD_CREATED, &v2, "a lead, any amount")
        .await?;

    // Three scheduled attempts and the manual retry fail; the replay succeeds.
    let fails_four_times = Behaviour {
        script: vec![500, 500, 500, 500],
        ..Behaviour::default()
    };
    let mut receivers = Vec::new();
    let mut connections = Vec::new();
    for (name, behaviour) in [
        ("crm", Behaviour::default()),
        ("flaky", fails_four_times),
        ("sales", Behaviour::default()),
    ] {
        let receiver = Receiver::start(SocketAddr::from(([127, 0, 0, 1], 0)), behaviour).await?;
        let connection = stack
            .client
            .create_webhook(name, &receiver.url("/hook"), Default::default())
            .await?;
        receivers.push(receiver);
        connections.push(connection);
    }
    let rules = [
        ("all-leads", &connections[0], "", ""),
        ("flaky-copy", &connections[1], "", ""),
        (
            "big-leads",
            &connections[2],
            "event.payload.amount > 100",
            "{\"email\": event.payload.email}",
        ),
    ];
    for (name, connection, condition, mapping) in rules {
        stack
            .client
            .router
            .clone()
            .create_rule(proto::CreateRuleRequest {
                event_type: LEAD_CREATED.to_string(),
                connection_id: connection.id.clone(),
                condition: condition.to_string(),
                mapping: mapping.to_string(),
                name: name.to_string(),
                ..Default::default()
            })
            .await?;
    }
    Ok(Fixture {
        stack,
        read_key,
        failing: connections.swap_remove(1),
        _receivers: receivers,
    })
}

async fn key_with(stack: &TestStack, scope: Scope) -> anyhow::Result<String> {
    let new = NewKey {
        name: "console-test",
        environment: "live",
        scopes: Scopes::of(&[scope]),
        expires_at: None,
        actor: "test",
    };
    let (_, key) = keys::create_key(&stack.pool, &stack.hasher(), stack.workspace, &new)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    Ok(key)
}

async fn emit(client: &Client) -> anyhow::Result<String> {
    let payload = serde_json::json!({"id": "l-1", "email": "ada@example.com", "amount": 250});
    Ok(client.emit(LEAD_CREATED, &payload).await?.event_id)
}

#[tokio::test]
async fn console_reads_are_scoped_to_the_callers_workspace_and_scope() -> anyhow::Result<()> {
    let fixture = fixture().await?;
    let stack = &fixture.stack;
    let event_id = emit(&stack.client).await?;
    stack.final_deliveries(&event_id, 3).await?;
    let reader = stack.client_with_key(&fixture.read_key)?;

    // The console signs in by asking who a credential is: a key or a
    // machine token.
    let registry =
        tonic::transport::Channel::from_shared(stack.stack.endpoints().registry)?.connect_lazy();
    let mut workspaces = proto::workspace_service_client::WorkspaceServiceClient::new(registry);
    let caller = workspaces
        .get_caller(authorized(proto::GetCallerRequest {}, &fixture.read_key))
        .await?
        .into_inner();
    assert_eq!(
        caller.workspace.as_ref().map(|w| w.id.clone()),
        Some(stack.workspace.to_string())
    );
    assert_eq!(caller.workspace.map(|w| w.slug), Some("test".to_string()));
    assert_eq!(caller.scopes, vec![proto::ApiKeyScope::Read as i32]);
    let secret = b"console-test-hs256-secret-0123456789abcdef";
    workspaces
        .add_verification_key(authorized(
            proto::AddVerificationKeyRequest {
                kid: "console".to_string(),
                algorithm: proto::VerificationAlgorithm::Hs256 as i32,
                material: secret.to_vec(),
            },
            &stack.api_key,
        ))
        .await?;
    let token = hs256(
        "console",
        secret,
        &claims(&stack.workspace.to_string(), "admin", "ci-bot"),
    )?;
    let machine = workspaces
        .get_caller(authorized(proto::GetCallerRequest {}, &token))
        .await?
        .into_inner();
    assert_eq!(machine.actor, "jwt:ci-bot");
    assert_eq!(machine.scopes, vec![proto::ApiKeyScope::Admin as i32]);

    let listed = reader
        .ingest
        .clone()
        .list_events(proto::ListEventsRequest::default())
        .await?
        .into_inner()
        .events;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, event_id);
    assert_eq!(listed[0].schema_version, 2);
    assert!(listed[0].payload_json.is_empty(), "lists carry no payloads");
    let other_type = reader
        .ingest
        .clone()
        .list_events(proto::ListEventsRequest {
            event_type: "lead.updated".to_string(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .events;
    assert!(other_type.is_empty());
    let event = reader
        .ingest
        .clone()
        .get_event(proto::GetEventRequest {
            id: event_id.clone(),
        })
        .await?
        .into_inner()
        .event
        .expect("event");
    let payload: serde_json::Value = serde_json::from_str(&event.payload_json)?;
    assert_eq!(payload["email"], "ada@example.com");

    let stats = reader
        .delivery
        .clone()
        .get_delivery_stats(proto::GetDeliveryStatsRequest::default())
        .await?
        .into_inner();
    let count = |outcome: proto::AttemptOutcome| -> u32 {
        stats
            .buckets
            .iter()
            .filter(|b| b.outcome == outcome as i32)
            .map(|b| b.count)
            .sum()
    };
    assert_eq!(count(proto::AttemptOutcome::Succeeded), 2);
    assert_eq!(count(proto::AttemptOutcome::Failed), 2);
    assert_eq!(count(proto::AttemptOutcome::Dead), 1);
    let flaky = stats
        .connections
        .iter()
        .find(|c| c.connection_id == fixture.failing.id)
        .expect("the failing connection's stats");
    assert_eq!((flaky.attempts, flaky.succeeded), (3, 0));

    // Another workspace sees none of it; an emit-only key may not read.
    let other = stack.other_workspace("elsewhere").await?;
    let missing = other
        .ingest
        .clone()
        .get_event(proto::GetEventRequest {
            id: event_id.clone(),
        })
        .await
        .expect_err("another workspace's event");
    assert_eq!(missing.code(), tonic::Code::NotFound);
    let none = other
        .ingest
        .clone()
        .list_events(proto::ListEventsRequest::default())
        .await?
        .into_inner()
        .events;
    assert!(none.is_empty());
    let emitter = stack.client_with_key(&key_with(stack, Scope::Emit).await?)?;
    let refused = emitter
        .delivery
        .clone()
        .get_delivery_stats(proto::GetDeliveryStatsRequest::default())
        .await
        .expect_err("emit-only stats");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    fixture.stack.stop().await
}

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[tokio::test]
#[ignore = "needs Chromium and playwright-core: scripts/test.sh installs them and runs it"]
async fn console_in_a_real_browser() -> anyhow::Result<()> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string());
    let script_dir = repository().join("tests/console");
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: install Debian's chromium (scripts/test.sh does)"
    );
    assert!(
        script_dir.join("node_modules/playwright-core").exists(),
        "run `npm ci` in tests/console (scripts/test.sh does)"
    );
    let mut fixture = fixture().await?;
    let console = fixture.stack.stack.start_console().await?;
    let screenshots = std::env::var("CONSOLE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repository().join("target/console-screenshots"));
    let mut node = tokio::process::Command::new("node")
        .arg("console.test.mjs")
        .current_dir(&script_dir)
        .env("CONSOLE_URL", format!("http://{console}"))
        .env("ADMIN_KEY", &fixture.stack.api_key)
        .env("READ_KEY", &fixture.read_key)
        .env("FAILING_CONNECTION", &fixture.failing.id)
        .env("CONSOLE_SCREENSHOTS", &screenshots)
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = node.stdin.take().expect("piped stdin");
    let mut lines = BufReader::new(node.stdout.take().expect("piped stdout")).lines();
    let mut passed = false;
    let run = async {
        while let Some(line) = lines.next_line().await? {
            println!("browser: {line}");
            match line.as_str() {
                "@@ emit" => {
                    let id = emit(&fixture.stack.client).await?;
                    stdin.write_all(format!("{id}\n").as_bytes()).await?;
                    stdin.flush().await?;
                }
                "console browser test passed" => passed = true,
                _ => {}
            }
        }
        anyhow::Ok(())
    };
    tokio::time::timeout(Duration::from_secs(180), run).await??;
    let status = node.wait().await?;
    assert!(
        status.success() && passed,
        "the browser test failed: {status}"
    );
    fixture.stack.stop().await
}
