//! RabbitMQ (AMQP 0-9-1, through `lapin`): one message per delivery,
//! published to the connection's exchange with its routing key (or the
//! ones the rule's mapping chose, `switchyard_delivery_model::connection::envelope`)
//! and waited for:
//!
//! - persistent (`delivery_mode` 2), `content_type` `application/json`,
//!   the delivery id as `message_id`, the trace's `traceparent` (and the
//!   mapping's headers) in the headers table;
//! - `mandatory`: a message no queue takes comes back (`312 NO_ROUTE`)
//!   and the attempt fails with that reason;
//! - publisher confirms: the attempt succeeds only on the broker's ack; a
//!   nack (the broker could not store it) is retried.
//!
//! [`pool`] keeps the connection and its channels; [`errors`] reads
//! lapin's errors; `super::broker` classifies the answers.

mod errors;
mod pool;

pub use pool::{AmqpPool, AmqpSettings};

use lapin::options::BasicPublishOptions;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Confirmation};
use secrecy::ExposeSecret;
use switchyard_delivery_model::connection::envelope::{self, BrokerMessage};
use switchyard_delivery_model::connection::{ConnectionKind, RabbitmqConfig};

use super::broker::{self, confirmed, refused};
use super::tokens::fingerprint;
use super::{Context, Destination, Sent};
use crate::engine::http::{HttpResponse, SendError, SendResult, Sender, Timeouts};
use crate::engine::retry::{RetryAction, RetryLogic};

/// AMQP's persistent delivery mode.
const PERSISTENT: u8 = 2;

pub struct Rabbitmq {
    config: RabbitmqConfig,
}

impl Rabbitmq {
    pub fn new(config: RabbitmqConfig) -> Self {
        Self { config }
    }

    /// `amqp://host:port/<vhost>/<exchange>/<routing key>`, each part
    /// percent-encoded (an empty exchange is the default one).
    fn target_of(&self, exchange: &str, routing_key: &str) -> String {
        let Ok(mut url) = url::Url::parse(&self.config.url) else {
            return self.config.url.clone();
        };
        let vhost = self
            .config
            .address()
            .map(|address| address.vhost)
            .unwrap_or_default();
        if let Ok(mut path) = url.path_segments_mut() {
            path.clear().push(&vhost).push(exchange).push(routing_key);
        }
        url.to_string()
    }

    /// The message's properties: persistent JSON, the delivery id, the
    /// headers.
    fn properties(context: &Context<'_>, message: &BrokerMessage) -> BasicProperties {
        let mut headers = FieldTable::default();
        for (name, value) in &message.headers {
            headers.insert(
                name.as_str().into(),
                AMQPValue::LongString(value.as_str().into()),
            );
        }
        if context.traceparent
            && let Some(traceparent) =
                switchyard_core::telemetry::propagation::current_traceparent()
        {
            headers.insert(
                "traceparent".into(),
                AMQPValue::LongString(traceparent.as_str().into()),
            );
        }
        BasicProperties::default()
            .with_delivery_mode(PERSISTENT)
            .with_content_type("application/json".into())
            .with_message_id(context.delivery_id.into())
            .with_timestamp(u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default())
            .with_headers(headers)
    }

    /// The pool of this connection's settings and password.
    fn pool(&self, context: &Context<'_>) -> Result<std::sync::Arc<AmqpPool>, SendError> {
        let password =
            context.credentials.password.as_ref().ok_or_else(|| {
                SendError::Invalid("the connection has no RabbitMQ password".into())
            })?;
        let address = self
            .config
            .address()
            .map_err(|reason| SendError::Invalid(format!("url {reason}")))?;
        let key = fingerprint(&[
            &self.config.url,
            &self.config.username,
            password.expose_secret(),
        ]);
        context
            .shared
            .brokers
            .rabbitmq
            .get_or_insert(context.connection, key, || {
                AmqpPool::new(AmqpSettings {
                    address,
                    username: self.config.username.clone(),
                    password: password.clone(),
                })
            })
    }

    /// Publishes and waits for the broker's confirmation.
    async fn publish(
        &self,
        context: &Context<'_>,
        message: &BrokerMessage,
        sender: &Sender,
        timeouts: Timeouts,
    ) -> SendResult {
        let pool = self.pool(context)?;
        let exchange = message.exchange.clone().unwrap_or_default();
        let routing_key = message.route.clone();
        let payload = message.payload();
        let properties = Self::properties(context, message);
        let attempt = async {
            let channel = match pool.channel(sender, timeouts.connect).await {
                Ok(channel) => channel,
                Err(result) => return result,
            };
            let options = BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            };
            let confirm = match channel
                .basic_publish(
                    exchange.as_str().into(),
                    routing_key.as_str().into(),
                    options,
                    &payload,
                    properties,
                )
                .await
            {
                Ok(confirm) => confirm,
                Err(error) => return errors::describe(&error),
            };
            match confirm.await {
                Ok(confirmation) => answer(confirmation, &exchange, &routing_key),
                Err(error) => errors::describe(&error),
            }
        };
        tokio::time::timeout(timeouts.total, attempt)
            .await
            .unwrap_or(Err(SendError::TimedOut(timeouts.total)))
    }
}

/// The attempt's result from the broker's confirmation.
fn answer(confirmation: Confirmation, exchange: &str, routing_key: &str) -> SendResult {
    match confirmation {
        Confirmation::Ack(None) => confirmed(serde_json::json!({
            "confirm": "ack",
            "exchange": exchange,
            "routing_key": routing_key,
        })),
        Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => refused(
            returned.reply_code,
            format!(
                "{}: the broker returned the message (exchange `{exchange}`, routing key `{routing_key}`: no queue took it)",
                returned.reply_text
            ),
        ),
        Confirmation::Nack(None) => Err(SendError::Other(
            "the broker nacked the message (it could not take responsibility for it)".into(),
        )),
        Confirmation::NotRequested => Err(SendError::Other(
            "the channel is not in confirm mode; no confirmation".into(),
        )),
    }
}

#[async_trait::async_trait]
impl Destination for Rabbitmq {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Rabbitmq
    }

    fn target(&self) -> String {
        self.target_of(&self.config.exchange, &self.config.routing_key)
    }

    async fn deliver(&self, context: &Context<'_>, sender: &Sender, timeouts: Timeouts) -> Sent {
        broker::deliver(
            envelope::rabbitmq(&self.config, context.payload),
            || self.target(),
            |message| self.target_of(message.exchange.as_deref().unwrap_or(""), &message.route),
            |message| async move { self.publish(context, &message, sender, timeouts).await },
        )
        .await
    }

    fn classify(&self, result: &SendResult, logic: &RetryLogic) -> RetryAction {
        broker::classify("RabbitMQ", result, logic)
    }

    fn detail(&self, response: &HttpResponse) -> serde_json::Map<String, serde_json::Value> {
        broker::detail(response)
    }
}
