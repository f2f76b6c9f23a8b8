//! NATS JetStream (through `async-nats`): one message per delivery,
//! published to the connection's subject (or the one the rule's mapping
//! chose, `switchyard_delivery_model::connection::envelope`) and waited for:
//!
//! - the delivery id as `Nats-Msg-Id`: within the stream's duplicate
//!   window JetStream stores a retried publish once (its ack says
//!   `duplicate`), so a publish whose ack was lost is never doubled;
//! - the trace's `traceparent`, `Content-Type: application/json` and the
//!   mapping's headers;
//! - the attempt succeeds only on the stream's publish ack; no stream
//!   capturing the subject (NATS answers "no responders", 503) fails the
//!   attempt with that reason.
//!
//! [`client`] keeps the connection; `super::broker` classifies answers.

mod client;

pub use client::{NatsAuth, NatsClient, NatsSettings};

use async_nats::jetstream::context::PublishErrorKind;
use secrecy::ExposeSecret;
use switchyard_delivery_model::connection::envelope::{self, BrokerMessage};
use switchyard_delivery_model::connection::{ConnectionKind, NatsConfig};

use super::broker::{self, confirmed, refused};
use super::tokens::fingerprint;
use super::{Context, Destination, Sent};
use crate::engine::http::{HttpResponse, SendError, SendResult, Sender, Timeouts};
use crate::engine::retry::{RetryAction, RetryLogic};

/// NATS's status when nothing answers a request: no stream captures the
/// subject (or JetStream is off on the server).
const NO_RESPONDERS: u16 = 503;

pub struct Nats {
    config: NatsConfig,
}

impl Nats {
    pub fn new(config: NatsConfig) -> Self {
        Self { config }
    }

    /// `nats://host:port/<subject>`.
    fn target_of(&self, subject: &str) -> String {
        format!("{}/{subject}", self.config.url.trim_end_matches('/'))
    }

    fn client(&self, context: &Context<'_>) -> Result<std::sync::Arc<NatsClient>, SendError> {
        let address = self
            .config
            .address()
            .map_err(|reason| SendError::Invalid(format!("url {reason}")))?;
        let credentials = context.credentials;
        let (auth, secret) = match (&self.config.username, self.config.token_auth) {
            (Some(user), _) => {
                let password = credentials.password.as_ref().ok_or_else(|| {
                    SendError::Invalid("the connection has a NATS user but no password".into())
                })?;
                (
                    NatsAuth::UserPassword(user.clone(), password.clone()),
                    password.expose_secret(),
                )
            }
            (None, true) => {
                let token = credentials
                    .token
                    .as_ref()
                    .ok_or_else(|| SendError::Invalid("the connection has no NATS token".into()))?;
                (NatsAuth::Token(token.clone()), token.expose_secret())
            }
            (None, false) => (NatsAuth::None, ""),
        };
        let user = self.config.username.as_deref().unwrap_or_default();
        let key = fingerprint(&[&self.config.url, user, secret]);
        context
            .shared
            .brokers
            .nats
            .get_or_insert(context.connection, key, || {
                NatsClient::new(NatsSettings { address, auth })
            })
    }

    fn headers(context: &Context<'_>, message: &BrokerMessage) -> async_nats::HeaderMap {
        let mut headers = async_nats::HeaderMap::new();
        for (name, value) in &message.headers {
            headers.insert(name.as_str(), value.as_str());
        }
        headers.insert("Content-Type", "application/json");
        headers.insert("Nats-Msg-Id", context.delivery_id);
        if context.traceparent
            && let Some(traceparent) =
                switchyard_core::telemetry::propagation::current_traceparent()
        {
            headers.insert("traceparent", traceparent.as_str());
        }
        headers
    }

    async fn publish(
        &self,
        context: &Context<'_>,
        message: &BrokerMessage,
        sender: &Sender,
        timeouts: Timeouts,
    ) -> SendResult {
        let client = self.client(context)?;
        let headers = Self::headers(context, message);
        let subject = message.route.clone();
        let payload = message.payload();
        let attempt = async {
            let jetstream = match client
                .jetstream(sender, timeouts.connect, timeouts.total)
                .await
            {
                Ok(jetstream) => jetstream,
                Err(result) => return result,
            };
            let published = jetstream
                .publish_with_headers(subject.clone(), headers, payload.into())
                .await;
            let acked = match published {
                Ok(ack) => ack.await,
                Err(error) => Err(error),
            };
            match acked {
                Ok(ack) => confirmed(serde_json::json!({
                    "stream": ack.stream,
                    "seq": ack.sequence,
                    "duplicate": ack.duplicate,
                })),
                Err(error) => match error.kind() {
                    PublishErrorKind::StreamNotFound => refused(
                        NO_RESPONDERS,
                        format!("no responders: no JetStream stream captures subject `{subject}`"),
                    ),
                    PublishErrorKind::TimedOut => Err(SendError::TimedOut(timeouts.total)),
                    PublishErrorKind::MaxPayloadExceeded => {
                        Err(SendError::Unsendable(format!("{error}")))
                    }
                    PublishErrorKind::BrokenPipe => Err(SendError::Connect(format!("{error}"))),
                    _ => Err(SendError::Other(format!("{error}"))),
                },
            }
        };
        tokio::time::timeout(timeouts.total, attempt)
            .await
            .unwrap_or(Err(SendError::TimedOut(timeouts.total)))
    }
}

#[async_trait::async_trait]
impl Destination for Nats {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Nats
    }

    fn target(&self) -> String {
        self.target_of(&self.config.subject)
    }

    async fn deliver(&self, context: &Context<'_>, sender: &Sender, timeouts: Timeouts) -> Sent {
        broker::deliver(
            envelope::nats(&self.config, context.payload),
            || self.target(),
            |message| self.target_of(&message.route),
            |message| async move { self.publish(context, &message, sender, timeouts).await },
        )
        .await
    }

    fn classify(&self, result: &SendResult, logic: &RetryLogic) -> RetryAction {
        broker::classify("NATS", result, logic)
    }

    fn detail(&self, response: &HttpResponse) -> serde_json::Map<String, serde_json::Value> {
        broker::detail(response)
    }
}
