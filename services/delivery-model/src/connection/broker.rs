//! The settings of the broker kinds: a RabbitMQ exchange (AMQP 0-9-1)
//! and a NATS JetStream subject. The broker's address is a URL without
//! credentials (`amqp://host:5672/vhost`, `nats://host:4222`); its host
//! passes the same SSRF guard as a webhook URL, when the connection is
//! created and again at every connect. The password or token is sealed
//! in `connection_secrets` like every other credential.
//!
//! With `routed_by_mapping`, the rule's mapping builds an envelope that
//! may choose the route and add headers per event (see
//! [`super::envelope`]); otherwise the mapped body is the message and the
//! route is the connection's.

use serde::{Deserialize, Serialize};

/// AMQP's default port.
pub const AMQP_PORT: u16 = 5672;
/// NATS's default client port.
pub const NATS_PORT: u16 = 4222;

/// Publish to a RabbitMQ exchange with a routing key: persistent, with
/// publisher confirms and `mandatory`. The password is sealed as
/// `password`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RabbitmqConfig {
    /// `amqp://host[:port][/vhost]`; the vhost is `/` when the path is empty.
    pub url: String,
    /// The user name (PLAIN authentication).
    pub username: String,
    /// The exchange; empty is the default exchange (routing key = queue).
    #[serde(default)]
    pub exchange: String,
    /// The routing key unless the mapping sets one.
    #[serde(default)]
    pub routing_key: String,
    /// The mapping builds `{"body", "exchange"?, "routing_key"?, "headers"?}`.
    #[serde(default)]
    pub routed_by_mapping: bool,
}

/// Publish to a NATS JetStream subject and wait for the stream's ack.
/// Authenticated by a user and password (sealed as `password`), a token
/// (sealed as `token`, with `token_auth`), or nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatsConfig {
    /// `nats://host[:port]`.
    pub url: String,
    /// Set: user-and-password authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Token authentication (without `username`).
    #[serde(default)]
    pub token_auth: bool,
    /// The subject unless the mapping sets one; a stream must capture it.
    #[serde(default)]
    pub subject: String,
    /// The mapping builds `{"body", "subject"?, "headers"?}`.
    #[serde(default)]
    pub routed_by_mapping: bool,
}

/// A broker URL's parts, read once for every use (validation, connect,
/// preview).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerAddress {
    pub host: String,
    pub port: u16,
    /// AMQP's virtual host (`/` unless the path names one); empty for NATS.
    pub vhost: String,
}

impl BrokerAddress {
    /// Reads `url` of `scheme` (`amqp` or `nats`); a URL carrying
    /// credentials, a query or another scheme is refused.
    pub fn parse(url: &str, scheme: &str, default_port: u16) -> Result<Self, String> {
        let parsed =
            url::Url::parse(url).map_err(|error| format!("is not a valid URL: {error}"))?;
        if parsed.scheme() != scheme {
            return Err(format!(
                "must be a {scheme}:// URL (TLS brokers are not supported yet)"
            ));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err("must not carry credentials (they are sealed apart)".to_string());
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err("must not have a query or fragment".to_string());
        }
        let host = match parsed.host() {
            Some(url::Host::Domain(name)) => name.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err("has no host".to_string()),
        };
        let port = parsed.port().unwrap_or(default_port);
        let path = parsed.path().trim_start_matches('/');
        let vhost = if scheme != "amqp" {
            if !path.is_empty() {
                return Err("must not have a path".to_string());
            }
            String::new()
        } else if path.is_empty() {
            "/".to_string()
        } else {
            percent_decode(path)?
        };
        Ok(Self { host, port, vhost })
    }
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text
                .get(index + 1..index + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or_else(|| "has a malformed %-escape in its vhost".to_string())?;
            out.push(hex);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "has a vhost that is not UTF-8".to_string())
}

impl RabbitmqConfig {
    pub fn address(&self) -> Result<BrokerAddress, String> {
        BrokerAddress::parse(&self.url, "amqp", AMQP_PORT)
    }
}

impl NatsConfig {
    pub fn address(&self) -> Result<BrokerAddress, String> {
        BrokerAddress::parse(&self.url, "nats", NATS_PORT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_broker_urls() {
        let amqp = BrokerAddress::parse("amqp://127.0.0.1", "amqp", AMQP_PORT).expect("amqp");
        assert_eq!(
            amqp,
            BrokerAddress {
                host: "127.0.0.1".into(),
                port: 5672,
                vhost: "/".into()
            }
        );
        let named = BrokerAddress::parse("amqp://mq.example.com:5673/%2fprod", "amqp", AMQP_PORT)
            .expect("vhost");
        assert_eq!((named.port, named.vhost.as_str()), (5673, "/prod"));
        let nats = BrokerAddress::parse("nats://127.0.0.1:4223", "nats", NATS_PORT).expect("nats");
        assert_eq!((nats.port, nats.vhost.as_str()), (4223, ""));
        for (url, scheme) in [
            ("amqp://guest:guest@127.0.0.1", "amqp"),
            ("amqps://127.0.0.1", "amqp"),
            ("http://127.0.0.1", "nats"),
            ("nats://127.0.0.1/x", "nats"),
            ("amqp://127.0.0.1/?heartbeat=5", "amqp"),
            ("amqp://127.0.0.1/%zz", "amqp"),
        ] {
            assert!(BrokerAddress::parse(url, scheme, 1).is_err(), "{url}");
        }
    }
}
