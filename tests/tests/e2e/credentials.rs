//! Connection credentials through the four real services: signing-secret
//! rotation (both signatures during the grace period, the new one alone
//! after it, other workspaces refused), credentials sealed at rest, masked
//! on read and kept when a masked value is written back,
//! plain-text rows of earlier versions sealed by the router at start and
//! still delivered, and re-encryption under a new master key while the
//! services keep delivering.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use secrecy::SecretString;
use switchyard::receiver::{Behaviour, ReceivedWebhook, Receiver};
use switchyard_client::proto;
use switchyard_core::ids::ConnectionId;
use switchyard_delivery_model::signature;
use switchyard_tenancy::secrets::{Keyring, store};
use switchyard_tests::{LEAD_CREATED, Service, TestStack};
use tonic::Code;

const TOKEN: &str = "Bearer planted-token-4f1c";

/// The lead schema, a receiver, a connection to it carrying [`TOKEN`],
/// and a rule.
async fn connect(stack: &TestStack) -> anyhow::Result<(Receiver, proto::Connection)> {
    stack.register_lead_schema().await?;
    let receiver =
        Receiver::start(SocketAddr::from(([127, 0, 0, 1], 0)), Behaviour::default()).await?;
    let headers = HashMap::from([
        ("Authorization".to_string(), TOKEN.to_string()),
        ("X-Team".to_string(), "growth".to_string()),
    ]);
    let connection = stack
        .client
        .create_webhook("hook", &receiver.url("/hook"), headers)
        .await?;
    stack
        .client
        .create_rule(LEAD_CREATED, &connection.id)
        .await?;
    Ok((receiver, connection))
}

/// Emits one lead and returns the webhook the receiver got for it.
async fn deliver(
    stack: &TestStack,
    receiver: &Receiver,
    n: usize,
) -> anyhow::Result<ReceivedWebhook> {
    let payload = serde_json::json!({ "id": format!("lead_{n}"), "email": "ada@example.com" });
    let event = stack.client.emit(LEAD_CREATED, &payload).await?.event_id;
    let deliveries = stack.final_deliveries(&event, 1).await?;
    let delivery_id = deliveries[0]
        .delivery
        .as_ref()
        .map(|d| d.id.clone())
        .unwrap_or_default();
    receiver
        .received()
        .into_iter()
        .find(|webhook| webhook.header("webhook-id") == Some(delivery_id.as_str()))
        .ok_or_else(|| anyhow::anyhow!("no webhook for delivery {delivery_id}"))
}

fn verifies(secret: &str, webhook: &ReceivedWebhook) -> bool {
    signature::verify(secret, &webhook.headers, &webhook.body).is_ok()
}

fn signatures(webhook: &ReceivedWebhook) -> Vec<String> {
    webhook
        .header("webhook-signature")
        .unwrap_or_default()
        .split(' ')
        .map(str::to_string)
        .collect()
}

fn grace(seconds: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration { seconds, nanos: 0 })
}

async fn rotate(
    stack: &TestStack,
    id: &str,
    grace_period: Option<prost_types::Duration>,
) -> Result<proto::RotateSigningSecretResponse, tonic::Status> {
    let request = proto::RotateSigningSecretRequest {
        id: id.to_string(),
        grace_period,
    };
    Ok(stack
        .client
        .router
        .clone()
        .rotate_signing_secret(request)
        .await?
        .into_inner())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn during_the_grace_period_old_and_new_secrets_both_verify() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let (receiver, connection) = connect(&stack).await?;
    let old = connection.signing_secret.clone();

    let before = deliver(&stack, &receiver, 1).await?;
    assert_eq!(signatures(&before).len(), 1);
    assert!(verifies(&old, &before));
    assert_eq!(before.header("authorization"), Some(TOKEN));
    assert_eq!(before.header("x-team"), Some("growth"));

    let rotated = stack
        .client
        .rotate_signing_secret(&connection.id, None)
        .await?;
    let new = rotated.signing_secret.clone();
    assert!(new.starts_with("whsec_"));
    assert_ne!(new, old);
    let expires = rotated
        .previous_secret_expires_at
        .expect("the previous secret has a grace period");
    let default_grace = expires.seconds - chrono::Utc::now().timestamp();
    assert!(
        (86_000..=86_400).contains(&default_grace),
        "{default_grace}"
    );
    let listed = rotated.connection.expect("connection");
    assert_eq!(listed.signing_secret, "");

    let during = deliver(&stack, &receiver, 2).await?;
    let sent = signatures(&during);
    assert_eq!(sent.len(), 2, "{sent:?}");
    let timestamp: i64 = during
        .header("webhook-timestamp")
        .and_then(|t| t.parse().ok())
        .expect("timestamp");
    let id = during.header("webhook-id").unwrap_or_default();
    assert_eq!(sent[0], signature::sign(&new, id, timestamp, &during.body)?);
    assert_eq!(sent[1], signature::sign(&old, id, timestamp, &during.body)?);
    // A receiver holding only the old secret and one holding only the new
    // one both accept the same webhook; a stranger does not.
    assert!(verifies(&old, &during));
    assert!(verifies(&new, &during));
    assert!(!verifies(&signature::generate_secret(), &during));
    assert_eq!(during.header("authorization"), Some(TOKEN));

    // Rotating with a grace of zero revokes the previous one at once.
    let revoked = rotate(&stack, &connection.id, grace(0)).await?;
    assert!(revoked.previous_secret_expires_at.is_none());
    let after = deliver(&stack, &receiver, 3).await?;
    assert_eq!(signatures(&after).len(), 1);
    assert!(verifies(&revoked.signing_secret, &after));
    assert!(!verifies(&new, &after));
    assert_eq!(
        stack
            .count(
                "SELECT count(*) FROM connection_secrets WHERE field = 'signing_secret.previous'"
            )
            .await?,
        0
    );
    stack.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_the_grace_period_only_the_new_secret_signs() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let (receiver, connection) = connect(&stack).await?;
    let old = connection.signing_secret.clone();
    let rotated = rotate(&stack, &connection.id, grace(1)).await?;
    assert!(rotated.previous_secret_expires_at.is_some());
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let webhook = deliver(&stack, &receiver, 1).await?;
    assert_eq!(signatures(&webhook).len(), 1, "{:?}", signatures(&webhook));
    assert!(verifies(&rotated.signing_secret, &webhook));
    assert!(!verifies(&old, &webhook));
    stack.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotation_is_refused_across_workspaces_and_beyond_seven_days() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let (_receiver, connection) = connect(&stack).await?;
    let other = stack.other_workspace("other").await?;
    let foreign = other
        .rotate_signing_secret(&connection.id, None)
        .await
        .expect_err("another workspace's connection");
    assert_eq!(foreign.code(), Code::NotFound);

    let too_long = rotate(&stack, &connection.id, grace(7 * 24 * 3600 + 1))
        .await
        .expect_err("longer than 7 days");
    assert_eq!(too_long.code(), Code::InvalidArgument);
    let negative = rotate(&stack, &connection.id, grace(-1))
        .await
        .expect_err("negative");
    assert_eq!(negative.code(), Code::InvalidArgument);
    let missing = rotate(&stack, &ConnectionId::generate().to_string(), None)
        .await
        .expect_err("no such connection");
    assert_eq!(missing.code(), Code::NotFound);
    // Nothing was rotated by the refused calls.
    assert_eq!(
        stack
            .count(
                "SELECT count(*) FROM connection_secrets WHERE field = 'signing_secret.previous'"
            )
            .await?,
        0
    );
    stack.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn credentials_are_sealed_at_rest_and_masked_on_read() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let (_receiver, connection) = connect(&stack).await?;
    let client = stack.pool.get().await?;
    let row: String = client
        .query_one("SELECT c::text FROM connections c", &[])
        .await?
        .get(0);
    assert!(!row.contains(&connection.signing_secret), "{row}");
    assert!(!row.contains("planted-token"), "{row}");
    assert!(
        row.contains("growth"),
        "non-credential headers stay readable: {row}"
    );
    let config: serde_json::Value = client
        .query_one("SELECT config FROM connections", &[])
        .await?
        .get(0);
    assert_eq!(
        config["credential_headers"],
        serde_json::json!(["Authorization"])
    );
    let sealed = client
        .query(
            "SELECT field, key_id, s::text FROM connection_secrets s ORDER BY field",
            &[],
        )
        .await?;
    let fields: Vec<String> = sealed.iter().map(|r| r.get(0)).collect();
    assert_eq!(fields, ["header.Authorization", "signing_secret"]);
    for row in &sealed {
        assert_eq!(row.get::<_, String>(1), "test");
        let text: String = row.get(2);
        assert!(
            !text.contains("planted-token") && !text.contains("whsec_"),
            "{text}"
        );
    }

    let read = stack
        .client
        .router
        .clone()
        .get_connection(proto::GetConnectionRequest {
            id: connection.id.clone(),
        })
        .await?
        .into_inner()
        .connection
        .expect("connection");
    assert_eq!(read.signing_secret, "");
    let headers = read.webhook.expect("webhook").headers;
    assert_eq!(
        headers.get("Authorization").map(String::as_str),
        Some("********")
    );
    assert_eq!(headers.get("X-Team").map(String::as_str), Some("growth"));
    stack.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connection_read_back_masked_and_written_again_keeps_its_credentials()
-> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let (receiver, connection) = connect(&stack).await?;
    let mut router = stack.client.router.clone();
    let read = router
        .get_connection(proto::GetConnectionRequest {
            id: connection.id.clone(),
        })
        .await?
        .into_inner()
        .connection
        .expect("connection");
    let mut webhook = read.webhook.expect("webhook");
    webhook
        .headers
        .insert("X-Team".to_string(), "sales".to_string());
    let update = |webhook: proto::WebhookConfig| proto::UpdateConnectionRequest {
        id: connection.id.clone(),
        webhook: Some(webhook),
        ..Default::default()
    };

    // A mask for a header that has no stored value is refused, and
    // nothing changes.
    let mut unknown = webhook.clone();
    unknown
        .headers
        .insert("X-Api-Key".to_string(), "********".to_string());
    let status = router
        .update_connection(update(unknown))
        .await
        .expect_err("a mask with nothing behind it");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("webhook.headers[X-Api-Key]"),
        "{}",
        status.message()
    );

    // The masked Authorization goes back as read: its value is kept.
    let updated = router
        .update_connection(update(webhook))
        .await?
        .into_inner()
        .connection
        .expect("connection");
    let headers = updated.webhook.expect("webhook").headers;
    assert_eq!(headers.get("X-Team").map(String::as_str), Some("sales"));
    assert_eq!(
        headers.get("Authorization").map(String::as_str),
        Some("********")
    );
    let webhook = deliver(&stack, &receiver, 1).await?;
    assert_eq!(webhook.header("authorization"), Some(TOKEN));
    assert_eq!(webhook.header("x-team"), Some("sales"));
    stack.stop().await
}

/// A connection as versions before V6 stored it: secret and credential
/// header in plain text.
async fn insert_plaintext_connection(
    stack: &TestStack,
    url: &str,
) -> anyhow::Result<(ConnectionId, String)> {
    let id = ConnectionId::generate();
    let secret = signature::generate_secret();
    let config = serde_json::json!({
        "url": url,
        "headers": {"Authorization": TOKEN, "X-Team": "growth"}
    });
    let client = stack.pool.get().await?;
    client
        .execute(
            "INSERT INTO connections (id, workspace_id, name, kind, config, signing_secret) \
             VALUES ($1, $2, 'legacy', 'webhook', $3, $4)",
            &[&id.as_uuid(), &stack.workspace.as_uuid(), &config, &secret],
        )
        .await?;
    Ok((id, secret))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plaintext_rows_keep_delivering_and_are_sealed_at_router_start() -> anyhow::Result<()> {
    let mut stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let receiver =
        Receiver::start(SocketAddr::from(([127, 0, 0, 1], 0)), Behaviour::default()).await?;
    let (id, secret) = insert_plaintext_connection(&stack, &receiver.url("/hook")).await?;
    stack
        .client
        .create_rule(LEAD_CREATED, &id.to_string())
        .await?;

    // Not sealed yet: the delivery engine signs with the plain-text secret.
    let before = deliver(&stack, &receiver, 1).await?;
    assert!(verifies(&secret, &before));
    assert_eq!(before.header("authorization"), Some(TOKEN));

    stack.stack.stop_service(Service::Router).await?;
    stack.stack.start_service(Service::Router).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while stack
        .count("SELECT count(*) FROM connections WHERE signing_secret IS NOT NULL")
        .await?
        > 0
    {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "not sealed within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let client = stack.pool.get().await?;
    let row: String = client
        .query_one("SELECT c::text FROM connections c", &[])
        .await?
        .get(0);
    assert!(
        !row.contains(&secret) && !row.contains("planted-token"),
        "{row}"
    );
    assert_eq!(
        stack
            .count("SELECT count(*) FROM connection_secrets")
            .await?,
        2
    );

    let after = deliver(&stack, &receiver, 2).await?;
    assert!(verifies(&secret, &after), "the same secret, now sealed");
    assert_eq!(after.header("authorization"), Some(TOKEN));
    assert_eq!(after.header("x-team"), Some("growth"));
    stack.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn key_rotation_reseals_everything_while_services_deliver() -> anyhow::Result<()> {
    let mut stack = TestStack::start().await?;
    let (receiver, connection) = connect(&stack).await?;
    let rotated = rotate(&stack, &connection.id, grace(3600)).await?;

    // Step 1: every service learns the new key, still sealing with the old.
    // Step 2: the new key becomes active; `keys rotate` re-seals.
    let new_key = switchyard_core::config::generate_master_key();
    let secrets = &mut stack.stack.config_mut().secrets;
    secrets
        .keys
        .insert("k2".to_string(), SecretString::from(new_key.clone()));
    secrets.active_key = Some("k2".to_string());
    let keyring = Keyring::from_config(&stack.stack.config().secrets)?;
    for service in [Service::Router, Service::Delivery] {
        stack.stack.stop_service(service).await?;
        stack.stack.start_service(service).await?;
    }
    let report = store::rotate(&stack.pool, &keyring, 1).await?;
    assert_eq!(report.reencrypted, 3, "{report:?}"); // secret, previous, header
    assert_eq!(report.under_active_key, 3);
    assert_eq!(report.under_other_keys, 0);
    assert_eq!(
        stack
            .count("SELECT count(*) FROM connection_secrets WHERE key_id <> 'k2'")
            .await?,
        0
    );
    let again = store::rotate(&stack.pool, &keyring, 100).await?;
    assert_eq!(again.reencrypted, 0);

    // Step 3: the old key is removed; everything still opens.
    let secrets = &mut stack.stack.config_mut().secrets;
    secrets.keys.remove("test");
    stack.stack.stop_service(Service::Delivery).await?;
    stack.stack.start_service(Service::Delivery).await?;
    let webhook = deliver(&stack, &receiver, 1).await?;
    assert!(verifies(&rotated.signing_secret, &webhook));
    assert!(verifies(&connection.signing_secret, &webhook));
    assert_eq!(webhook.header("authorization"), Some(TOKEN));

    // A keyring without the key a value is sealed under cannot rotate it.
    let stranger = Keyring::single("k3", &switchyard_core::config::generate_master_key())?;
    assert!(store::rotate(&stack.pool, &stranger, 10).await.is_err());
    stack.stop().await
}
