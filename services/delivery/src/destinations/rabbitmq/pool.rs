//! One RabbitMQ connection per Switchyard connection, with a few
//! confirm-mode channels used in turn (a channel carries many publishes
//! in flight; confirms come back per channel).
//!
//! A channel the broker closed (a publish to a missing exchange closes it
//! with `404 NOT_FOUND`) is reopened on its next use; a connection that
//! dropped (the broker restarted, the network cut) is reopened by the
//! first channel that needs it, through the SSRF guard again. Opening is
//! bounded by the connect timeout; nothing retries inside an attempt —
//! a broker that is down fails the attempt and the retry schedule and
//! breaker take over.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lapin::options::ConfirmSelectOptions;
use lapin::uri::{AMQPAuthority, AMQPQueryString, AMQPScheme, AMQPUri, AMQPUserInfo};
use lapin::{Channel, Connection, ConnectionProperties};
use secrecy::{ExposeSecret, SecretString};
use switchyard_delivery_model::connection::BrokerAddress;
use tokio::sync::Mutex;

use super::errors::describe;
use crate::destinations::broker::connect_address;
use crate::engine::http::{SendError, SendResult, Sender};

/// Channels per connection.
const CHANNELS: usize = 4;
/// Heartbeat asked of the broker, so a silent peer is noticed.
const HEARTBEAT_SECONDS: u16 = 30;

/// Where and as whom to connect.
pub struct AmqpSettings {
    pub address: BrokerAddress,
    pub username: String,
    pub password: SecretString,
}

/// The pooled connection and channels of one RabbitMQ connection.
pub struct AmqpPool {
    settings: AmqpSettings,
    connection: Mutex<Option<Arc<Connection>>>,
    channels: Vec<Mutex<Option<Channel>>>,
    next: AtomicUsize,
}

/// Why no channel could be had: an error, or the broker's refusal (e.g.
/// `403 ACCESS_REFUSED`), already an attempt's result.
pub type ChannelResult = Result<Channel, SendResult>;

impl AmqpPool {
    pub fn new(settings: AmqpSettings) -> Self {
        Self {
            settings,
            connection: Mutex::new(None),
            channels: (0..CHANNELS).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// An open confirm-mode channel, reopened when it was closed.
    pub async fn channel(&self, sender: &Sender, connect_timeout: Duration) -> ChannelResult {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % CHANNELS;
        let mut slot = self.channels[index].lock().await;
        if let Some(channel) = slot.as_ref()
            && channel.status().connected()
        {
            return Ok(channel.clone());
        }
        let connection = self.connection(sender, connect_timeout).await?;
        let open = async {
            let channel = connection.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            Ok::<_, lapin::Error>(channel)
        };
        let channel = tokio::time::timeout(connect_timeout, open)
            .await
            .map_err(|_| Err(SendError::ConnectTimedOut(connect_timeout)))?
            .map_err(|error| describe(&error))?;
        *slot = Some(channel.clone());
        Ok(channel)
    }

    async fn connection(
        &self,
        sender: &Sender,
        connect_timeout: Duration,
    ) -> Result<Arc<Connection>, SendResult> {
        let mut current = self.connection.lock().await;
        if let Some(connection) = current.as_ref()
            && connection.status().connected()
        {
            return Ok(connection.clone());
        }
        let address = &self.settings.address;
        let addr = connect_address(sender, &address.host, address.port)
            .await
            .map_err(Err)?;
        let host = match addr.ip() {
            std::net::IpAddr::V4(ip) => ip.to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        };
        let uri = AMQPUri {
            scheme: AMQPScheme::AMQP,
            authority: AMQPAuthority {
                userinfo: AMQPUserInfo {
                    username: self.settings.username.clone(),
                    password: self.settings.password.expose_secret().to_string(),
                },
                host,
                port: addr.port(),
            },
            vhost: address.vhost.clone(),
            query: AMQPQueryString {
                heartbeat: Some(HEARTBEAT_SECONDS),
                connection_timeout: u64::try_from(connect_timeout.as_millis()).ok(),
                ..AMQPQueryString::default()
            },
        };
        let properties = ConnectionProperties::default().with_connection_name("switchyard".into());
        let connection =
            tokio::time::timeout(connect_timeout, Connection::connect_uri(uri, properties))
                .await
                .map_err(|_| Err(SendError::ConnectTimedOut(connect_timeout)))?
                .map_err(|error| describe(&error))?;
        tracing::debug!(broker = %addr, "rabbitmq connection opened");
        let connection = Arc::new(connection);
        *current = Some(connection.clone());
        Ok(connection)
    }
}
