//! One NATS client per Switchyard connection, with its JetStream context.
//!
//! The client is opened on first use, through the SSRF guard (the
//! server's address resolved by the destination policy; servers the
//! cluster advertises are ignored, since they never passed the guard).
//! Once open, `async-nats` reconnects by itself when the server goes away
//! and comes back; publishes made meanwhile wait for their ack until the
//! attempt's timeout, and a retried publish carries the same
//! `Nats-Msg-Id`, so JetStream stores it once whichever copy arrives.

use std::time::Duration;

use async_nats::jetstream;
use async_nats::{ConnectErrorKind, ConnectOptions};
use secrecy::{ExposeSecret, SecretString};
use switchyard_delivery_model::connection::BrokerAddress;
use tokio::sync::Mutex;

use crate::destinations::broker::{ACCESS_REFUSED, connect_address, refused};
use crate::engine::http::{SendError, SendResult, Sender};

/// The longest wait between reconnect tries.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(2);

/// How the client authenticates.
pub enum NatsAuth {
    None,
    Token(SecretString),
    UserPassword(String, SecretString),
}

pub struct NatsSettings {
    pub address: BrokerAddress,
    pub auth: NatsAuth,
}

/// The client of one NATS connection, opened on first use.
pub struct NatsClient {
    settings: NatsSettings,
    context: Mutex<Option<jetstream::Context>>,
}

impl NatsClient {
    pub fn new(settings: NatsSettings) -> Self {
        Self {
            settings,
            context: Mutex::new(None),
        }
    }

    /// The JetStream context; acks are waited for at most `ack_timeout`.
    pub async fn jetstream(
        &self,
        sender: &Sender,
        connect_timeout: Duration,
        ack_timeout: Duration,
    ) -> Result<jetstream::Context, SendResult> {
        let mut current = self.context.lock().await;
        if let Some(context) = current.as_ref() {
            return Ok(context.clone());
        }
        let address = &self.settings.address;
        let addr = connect_address(sender, &address.host, address.port)
            .await
            .map_err(Err)?;
        let mut options = ConnectOptions::new()
            .name("switchyard")
            .connection_timeout(connect_timeout)
            .request_timeout(Some(ack_timeout))
            .ignore_discovered_servers()
            .max_reconnects(Option::<usize>::None)
            .reconnect_delay_callback(|attempts| {
                let attempts = u32::try_from(attempts).unwrap_or(u32::MAX);
                (Duration::from_millis(100) * attempts).min(MAX_RECONNECT_DELAY)
            });
        options = match &self.settings.auth {
            NatsAuth::None => options,
            NatsAuth::Token(token) => options.token(token.expose_secret().to_string()),
            NatsAuth::UserPassword(user, password) => {
                options.user_and_password(user.clone(), password.expose_secret().to_string())
            }
        };
        let client =
            options
                .connect(format!("nats://{addr}"))
                .await
                .map_err(|error| match error.kind() {
                    ConnectErrorKind::AuthorizationViolation | ConnectErrorKind::Authentication => {
                        refused(ACCESS_REFUSED, format!("{error}"))
                    }
                    ConnectErrorKind::TimedOut => Err(SendError::ConnectTimedOut(connect_timeout)),
                    _ => Err(SendError::Connect(format!("{error}"))),
                })?;
        tracing::debug!(broker = %addr, "nats connection opened");
        let context = jetstream::ContextBuilder::new()
            .timeout(ack_timeout)
            .build(client);
        *current = Some(context.clone());
        Ok(context)
    }
}
