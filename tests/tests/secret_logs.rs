//! Secrets never reach the logs: with every log line of the process
//! captured at debug level (its own test binary, since the subscriber is
//! global), a connection carrying a recognisable signing secret and
//! credential header is created, read, updated, rotated and delivered to —
//! a failed attempt and its retry included — and neither secret appears in
//! the logs, nor in plain form in the database.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use switchyard::receiver::{Behaviour, Receiver};
use switchyard_client::proto;
use switchyard_tests::{LEAD_CREATED, TestStack};

/// Every log line written, in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut buffer) = self.0.lock() {
            buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secrets_never_appear_in_logs_or_in_plain_form_at_rest() -> anyhow::Result<()> {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .map_err(|error| anyhow::anyhow!("installing the subscriber: {error}"))?;

    let token = format!("Bearer planted-{}", uuid::Uuid::new_v4().simple());
    let second_token = format!("planted-key-{}", uuid::Uuid::new_v4().simple());
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let behaviour = Behaviour {
        script: vec![500],
        ..Behaviour::default()
    };
    let receiver = Receiver::start(SocketAddr::from(([127, 0, 0, 1], 0)), behaviour).await?;
    let connection = stack
        .client
        .create_webhook(
            "hook",
            &receiver.url("/hook"),
            HashMap::from([("Authorization".to_string(), token.clone())]),
        )
        .await?;
    let first_secret = connection.signing_secret.clone();
    receiver.set_secret(&first_secret);
    stack
        .client
        .create_rule(LEAD_CREATED, &connection.id)
        .await?;
    let update = proto::UpdateConnectionRequest {
        id: connection.id.clone(),
        webhook: Some(proto::WebhookConfig {
            url: receiver.url("/hook"),
            headers: HashMap::from([
                ("Authorization".to_string(), token.clone()),
                ("X-Api-Key".to_string(), second_token.clone()),
            ]),
        }),
        ..Default::default()
    };
    stack
        .client
        .router
        .clone()
        .update_connection(update)
        .await?;
    let rotated = stack
        .client
        .rotate_signing_secret(&connection.id, None)
        .await?;
    let second_secret = rotated.signing_secret.clone();
    stack
        .client
        .router
        .clone()
        .list_connections(proto::ListConnectionsRequest::default())
        .await?;

    let payload = serde_json::json!({ "id": "lead_1", "email": "ada@example.com" });
    let event = stack.client.emit(LEAD_CREATED, &payload).await?.event_id;
    let deliveries = stack.final_deliveries(&event, 1).await?;
    assert_eq!(
        deliveries[0].delivery.as_ref().map(|d| d.status),
        Some(proto::DeliveryStatus::Succeeded as i32)
    );
    assert_eq!(deliveries[0].attempts.len(), 2, "a failure, then the retry");
    // The secrets were used: the receiver got the headers and verified the
    // webhook with the first secret (still signing during its grace period).
    let received = receiver.received();
    let last = received.last().expect("a webhook");
    assert_eq!(last.header("authorization"), Some(token.as_str()));
    assert_eq!(last.header("x-api-key"), Some(second_token.as_str()));
    assert_eq!(last.signature, Some(Ok(())));

    let client = stack.pool.get().await?;
    let rows: Vec<String> = client
        .query(
            "SELECT c::text FROM connections c \
             UNION ALL SELECT s::text FROM connection_secrets s",
            &[],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(rows.len(), 5, "the connection and four sealed values");
    drop(client);
    stack.stop().await?;

    let logs = captured.text();
    // The capture worked: the delivery engine's and router's lines are in it.
    assert!(logs.contains("attempt failed; retry scheduled"), "{logs}");
    assert!(logs.contains("signing secret rotated"), "{logs}");
    assert!(logs.contains("DEBUG"), "debug lines are captured");
    let planted = [
        first_secret.as_str(),
        second_secret.as_str(),
        token.as_str(),
        second_token.as_str(),
        // The secrets without their prefix, as a base64 key would be logged.
        &first_secret["whsec_".len()..],
        &second_secret["whsec_".len()..],
    ];
    for secret in planted {
        assert!(!logs.contains(secret), "a secret was logged");
        for row in &rows {
            assert!(
                !row.contains(secret),
                "a secret is stored in plain form: {row}"
            );
        }
    }
    Ok(())
}
