//! `switchyard bench --broker rabbitmq|nats`: the healthy destinations are
//! broker connections instead of webhooks. Each gets a sink of its own on
//! the broker — a RabbitMQ queue bound to `amq.topic` by a routing key of
//! its own, or a JetStream stream capturing a subject of its own, read by
//! a plain NATS subscription — and the sink tallies arrivals by delivery
//! id (`message_id`, `Nats-Msg-Id`) like a webhook receiver, so the report
//! is the same. Streams are deleted when the run ends.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use futures::StreamExt;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use switchyard_client::proto;

use super::receivers::Tally;

/// Which broker the healthy connections publish to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BrokerKind {
    Rabbitmq,
    Nats,
}

/// Where the broker is and who publishes.
#[derive(Clone, Debug)]
pub struct BrokerTarget {
    pub kind: BrokerKind,
    /// amqp:// or nats:// without credentials.
    pub url: String,
    pub username: String,
    pub password: String,
}

/// One broker connection's sink and what it saw.
pub struct BrokerSink {
    destination: proto::create_connection_request::Destination,
    tally: Arc<Mutex<Tally>>,
    consumer: tokio::task::JoinHandle<()>,
    /// The JetStream stream to delete at the end.
    stream: Option<(async_nats::jetstream::Context, String)>,
}

impl BrokerSink {
    pub async fn start(target: &BrokerTarget, started: Instant) -> anyhow::Result<Self> {
        let name = format!("bench_{}", uuid::Uuid::now_v7().simple());
        let tally = Arc::new(Mutex::new(Tally::default()));
        match target.kind {
            BrokerKind::Rabbitmq => Self::rabbitmq(target, name, tally, started).await,
            BrokerKind::Nats => Self::nats(target, name, tally, started).await,
        }
    }

    async fn rabbitmq(
        target: &BrokerTarget,
        name: String,
        tally: Arc<Mutex<Tally>>,
        started: Instant,
    ) -> anyhow::Result<Self> {
        let mut url = url::Url::parse(&target.url).context("--broker-url")?;
        url.set_username(&target.username)
            .and_then(|()| url.set_password(Some(&target.password)))
            .map_err(|()| anyhow::anyhow!("--broker-url cannot carry a user"))?;
        let connection =
            lapin::Connection::connect(url.as_str(), lapin::ConnectionProperties::default())
                .await
                .context("connecting the bench's consumer to RabbitMQ")?;
        let channel = connection.create_channel().await?;
        let declare = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..QueueDeclareOptions::default()
        };
        channel
            .queue_declare(name.as_str().into(), declare, FieldTable::default())
            .await?;
        channel
            .queue_bind(
                name.as_str().into(),
                "amq.topic".into(),
                name.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let consume = BasicConsumeOptions {
            no_ack: true,
            ..BasicConsumeOptions::default()
        };
        let mut consumer = channel
            .basic_consume(
                name.as_str().into(),
                "switchyard-bench".into(),
                consume,
                FieldTable::default(),
            )
            .await?;
        let counted = Arc::clone(&tally);
        let task = tokio::spawn(async move {
            // Owned by the task: the queue lives as long as it reads.
            let _connection = connection;
            while let Some(Ok(delivery)) = consumer.next().await {
                let id = delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                if let Ok(mut tally) = counted.lock() {
                    tally.record(id, &delivery.data, started.elapsed());
                }
            }
        });
        let destination =
            proto::create_connection_request::Destination::Rabbitmq(proto::RabbitmqConfig {
                url: target.url.clone(),
                username: target.username.clone(),
                password: target.password.clone(),
                exchange: "amq.topic".into(),
                routing_key: name,
                routed_by_mapping: false,
            });
        Ok(Self {
            destination,
            tally,
            consumer: task,
            stream: None,
        })
    }

    async fn nats(
        target: &BrokerTarget,
        name: String,
        tally: Arc<Mutex<Tally>>,
        started: Instant,
    ) -> anyhow::Result<Self> {
        let client = async_nats::connect(target.url.as_str())
            .await
            .context("connecting the bench's consumer to NATS")?;
        let jetstream = async_nats::jetstream::new(client.clone());
        let stream_name = name.to_uppercase();
        jetstream
            .create_stream(async_nats::jetstream::stream::Config {
                name: stream_name.clone(),
                subjects: vec![name.clone()],
                ..Default::default()
            })
            .await
            .context("creating the bench's stream")?;
        let mut subscription = client.subscribe(name.clone()).await?;
        let counted = Arc::clone(&tally);
        let task = tokio::spawn(async move {
            while let Some(message) = subscription.next().await {
                let id = message
                    .headers
                    .as_ref()
                    .and_then(|headers| headers.get("Nats-Msg-Id"))
                    .map(ToString::to_string)
                    .unwrap_or_default();
                if let Ok(mut tally) = counted.lock() {
                    tally.record(id, &message.payload, started.elapsed());
                }
            }
        });
        let destination = proto::create_connection_request::Destination::Nats(proto::NatsConfig {
            url: target.url.clone(),
            subject: name,
            ..Default::default()
        });
        Ok(Self {
            destination,
            tally,
            consumer: task,
            stream: Some((jetstream, stream_name)),
        })
    }

    pub fn destination(&self) -> proto::create_connection_request::Destination {
        self.destination.clone()
    }

    pub fn delivered(&self) -> u64 {
        self.tally.lock().map(|t| t.delivered()).unwrap_or(0)
    }

    pub fn take_tally(&self) -> Tally {
        self.tally
            .lock()
            .map(|mut tally| std::mem::take(&mut *tally))
            .unwrap_or_default()
    }

    /// Stops reading and deletes the run's stream.
    pub async fn finish(self) {
        self.consumer.abort();
        if let Some((jetstream, name)) = self.stream
            && let Err(error) = jetstream.delete_stream(&name).await
        {
            tracing::warn!(%error, stream = %name, "deleting the bench stream failed");
        }
    }
}
