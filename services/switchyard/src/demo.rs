//! `switchyard demo`: starts all four services, a webhook receiver and
//! local stand-ins for HubSpot, Mailchimp and Salesforce in this process,
//! creates a workspace, registers a schema, connects the receiver and the
//! three APIs (each rule mapping the lead into that API's shape), emits one
//! valid and one invalid event, and shows what each destination received
//! and every delivery's history: one `lead.created`, four projections.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use switchyard_client::{Client, proto};
use switchyard_core::config::Config;
use switchyard_core::{db, shutdown};
use switchyard_tenancy::auth;

use crate::commands::client::describe_delivery_with_attempts;
use crate::receiver::{self, Behaviour, Receiver};
use crate::stack::{ServiceKind, Stack};
use crate::standins::StandIns;

const EVENT_TYPE: &str = "lead.created";

fn lead_schema() -> serde_json::Value {
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "A new lead",
        "type": "object",
        "required": ["id", "email", "source"],
        "properties": {
            "id": {"type": "string"},
            "email": {"type": "string", "format": "email"},
            "firstName": {"type": "string"},
            "lastName": {"type": "string"},
            "source": {"type": "string", "enum": ["ads", "organic", "referral"]}
        }
    })
}

pub async fn run(mut config: Config, exit: bool) -> anyhow::Result<()> {
    // The demo's receiver listens on loopback, which deliveries may not
    // reach unless allowed.
    let loopback = "127.0.0.0/8".parse().context("loopback network")?;
    if !config.allowed_destination_networks.contains(&loopback) {
        config.allowed_destination_networks.push(loopback);
    }
    if crate::dev_keys::ensure(&mut config)? {
        step(&format!(
            "credentials encrypted with the local key in {}",
            crate::dev_keys::DEV_KEY_FILE
        ));
    }
    let mut stack = Stack::start(config, &ServiceKind::ALL).await?;
    let console = stack.start_console().await?;
    step(&format!(
        "services up: registry {}, ingest {}, router {}, delivery {}; console http://{console}/",
        stack.addr(ServiceKind::Registry),
        stack.addr(ServiceKind::Ingest),
        stack.addr(ServiceKind::Router),
        stack.addr(ServiceKind::Delivery)
    ));

    let pool = db::pool(&stack.config().database_url, 2)?;
    let slug = format!("demo-{}", chrono::Utc::now().format("%Y%m%d-%H%M%S"));
    let hasher = auth::KeyHasher::new(stack.config().api_key_pepper.as_ref());
    let (workspace, key) = auth::create_workspace(&pool, &hasher, &slug)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    step(&format!(
        "workspace {slug} ({workspace}) with API key {key}"
    ));
    let client = stack.client(&key)?;

    let print: Arc<dyn Fn(&receiver::ReceivedWebhook) + Send + Sync> =
        Arc::new(|webhook| println!("   receiver got: {}", receiver::describe(webhook)));
    let receiver = Receiver::start_with_callback(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        Behaviour::default(),
        Some(print),
    )
    .await?;

    let registered = client
        .register_schema(EVENT_TYPE, &lead_schema(), "A lead signed up")
        .await
        .context("registering the schema")?;
    step(&format!(
        "registered {EVENT_TYPE} schema version {}",
        registered.version
    ));

    let connection = client
        .create_webhook(
            "demo receiver",
            &receiver.url("/webhooks/leads"),
            HashMap::new(),
        )
        .await
        .context("creating the connection")?;
    receiver.set_secret(&connection.signing_secret);
    step(&format!(
        "connection {} -> {} (secret {})",
        connection.id,
        receiver.url("/webhooks/leads"),
        connection.signing_secret
    ));

    let rule = client
        .create_rule(EVENT_TYPE, &connection.id)
        .await
        .context("creating the rule")?;
    step(&format!(
        "rule {}: every {EVENT_TYPE} goes to {}",
        rule.id, connection.name
    ));

    let standins = StandIns::start(Some(Arc::new(|received| {
        println!("   {}", crate::demo_saas::describe(received));
    })))
    .await?;
    step(&format!(
        "local stand-ins (not the real APIs) for HubSpot, Mailchimp and Salesforce at {}",
        standins.base_url
    ));
    let saas = crate::demo_saas::connect(&client, &standins.base_url, EVENT_TYPE).await?;

    let invalid = serde_json::json!({"id": "lead_0", "email": "not-an-email", "source": "tv"});
    match client.emit(EVENT_TYPE, &invalid).await {
        Err(status) => step(&format!(
            "invalid event refused ({:?}): {}",
            status.code(),
            status.message()
        )),
        Ok(response) => anyhow::bail!("the invalid event was accepted as {}", response.event_id),
    }

    let lead = serde_json::json!({
        "id": "lead_1", "email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace", "source": "ads"
    });
    let emitted = client
        .emit_event(proto::EmitEventRequest {
            event_type: EVENT_TYPE.to_string(),
            payload_json: lead.to_string(),
            idempotency_key: "demo-lead-1".to_string(),
            schema_version: 0,
        })
        .await
        .context("emitting the event")?;
    step(&format!("emitted {} -> {}", EVENT_TYPE, emitted.event_id));

    receiver.wait_for(1, Duration::from_secs(30)).await?;
    // HubSpot, Mailchimp, and Salesforce's token and record requests.
    standins.wait_for(4, Duration::from_secs(30)).await?;
    let deliveries = wait_for_deliveries(&client, &emitted.event_id, 1 + saas.len()).await?;
    step("delivery history:");
    for delivery in &deliveries {
        print!("{}", describe_delivery_with_attempts(delivery));
    }

    if exit {
        return stack.stop().await;
    }
    println!();
    println!("The stack keeps running. Try it with the same key:");
    println!("  export SWITCHYARD_API_KEY={key}");
    println!(
        "  export SWITCHYARD_REGISTRY_ENDPOINT=http://{} SWITCHYARD_INGEST_ENDPOINT=http://{} SWITCHYARD_ROUTER_ENDPOINT=http://{} SWITCHYARD_DELIVERY_ENDPOINT=http://{}",
        stack.addr(ServiceKind::Registry),
        stack.addr(ServiceKind::Ingest),
        stack.addr(ServiceKind::Router),
        stack.addr(ServiceKind::Delivery)
    );
    println!(
        "  cargo run --release -p switchyard -- emit {EVENT_TYPE} '{}'",
        lead
    );
    println!("  or open the console at http://{console}/ and sign in with the key.");
    println!("Press Ctrl-C to stop.");
    tokio::select! {
        () = shutdown::os_signal() => {}
        result = stack.any_stopped() => result?,
    }
    stack.stop().await
}

pub(crate) fn step(text: &str) {
    println!("==> {text}");
}

/// Polls until the event's `count` deliveries are final (succeeded or dead).
async fn wait_for_deliveries(
    client: &Client,
    event_id: &str,
    count: usize,
) -> anyhow::Result<Vec<proto::GetDeliveryResponse>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let final_status = [
        proto::DeliveryStatus::Succeeded as i32,
        proto::DeliveryStatus::Dead as i32,
    ];
    loop {
        let deliveries = client.list_deliveries(event_id).await?;
        if deliveries.len() >= count && deliveries.iter().all(|d| final_status.contains(&d.status))
        {
            let mut answers = Vec::with_capacity(deliveries.len());
            for delivery in &deliveries {
                answers.push(client.get_delivery(&delivery.id).await?);
            }
            return Ok(answers);
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("the deliveries of {event_id} did not finish within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
