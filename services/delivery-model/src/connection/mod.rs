//! A connection's config: one tagged type shared by the router (which
//! validates and stores it) and the delivery engine (which sends with it).
//!
//! `connections.kind` names the variant and `connections.config` holds its
//! settings as JSON; [`ConnectionConfig::from_stored`] reads the pair back
//! and [`ConnectionConfig::to_stored`] writes it. Credentials never live in
//! the config: each kind names the secrets it needs ([`ConnectionKind::
//! secret_fields`]) and they are sealed in `connection_secrets`.

mod broker;
pub mod envelope;
mod saas;
mod salesforce;
pub mod shape;
mod webhook;

use serde::{Deserialize, Serialize};

pub use broker::{AMQP_PORT, BrokerAddress, NATS_PORT, NatsConfig, RabbitmqConfig};
pub use saas::{HUBSPOT_BASE_URL, HubspotConfig, MailchimpConfig, mailchimp_data_centre};
pub use salesforce::{SALESFORCE_API_VERSION, SALESFORCE_LOGIN_URL, SalesforceConfig};
pub use webhook::{RESERVED_HEADERS, WebhookConfig, is_reserved_header};

/// What a connection delivers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionKind {
    Webhook,
    Hubspot,
    Mailchimp,
    Salesforce,
    Rabbitmq,
    Nats,
}

impl ConnectionKind {
    pub const ALL: [Self; 6] = [
        Self::Webhook,
        Self::Hubspot,
        Self::Mailchimp,
        Self::Salesforce,
        Self::Rabbitmq,
        Self::Nats,
    ];

    /// The `connections.kind` text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Hubspot => "hubspot",
            Self::Mailchimp => "mailchimp",
            Self::Salesforce => "salesforce",
            Self::Rabbitmq => "rabbitmq",
            Self::Nats => "nats",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

impl std::fmt::Display for ConnectionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The settings of one connection, by kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "config", rename_all = "snake_case")]
pub enum ConnectionConfig {
    Webhook(WebhookConfig),
    Hubspot(HubspotConfig),
    Mailchimp(MailchimpConfig),
    Salesforce(SalesforceConfig),
    Rabbitmq(RabbitmqConfig),
    Nats(NatsConfig),
}

impl ConnectionConfig {
    pub fn kind(&self) -> ConnectionKind {
        match self {
            Self::Webhook(_) => ConnectionKind::Webhook,
            Self::Hubspot(_) => ConnectionKind::Hubspot,
            Self::Mailchimp(_) => ConnectionKind::Mailchimp,
            Self::Salesforce(_) => ConnectionKind::Salesforce,
            Self::Rabbitmq(_) => ConnectionKind::Rabbitmq,
            Self::Nats(_) => ConnectionKind::Nats,
        }
    }

    /// Reads `connections.kind` and `connections.config`.
    pub fn from_stored(kind: &str, config: &serde_json::Value) -> Result<Self, String> {
        let kind = ConnectionKind::parse(kind)
            .ok_or_else(|| format!("connection kind `{kind}` is not known to this version"))?;
        let tagged = serde_json::json!({ "kind": kind.as_str(), "config": config });
        serde_json::from_value(tagged).map_err(|error| format!("{kind} connection config: {error}"))
    }

    /// The `connections.config` JSON of these settings.
    pub fn to_stored(&self) -> serde_json::Value {
        let value = match self {
            Self::Webhook(config) => serde_json::to_value(config),
            Self::Hubspot(config) => serde_json::to_value(config),
            Self::Mailchimp(config) => serde_json::to_value(config),
            Self::Salesforce(config) => serde_json::to_value(config),
            Self::Rabbitmq(config) => serde_json::to_value(config),
            Self::Nats(config) => serde_json::to_value(config),
        };
        // Plain structs of strings and maps always serialize.
        value.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stored_pairs_by_kind() {
        let webhook = ConnectionConfig::from_stored(
            "webhook",
            &serde_json::json!({"url": "https://x.test/h", "headers": {"X-Team": "a"}}),
        )
        .expect("webhook");
        let ConnectionConfig::Webhook(config) = &webhook else {
            panic!("not a webhook: {webhook:?}");
        };
        assert_eq!(config.url, "https://x.test/h");
        assert!(config.credential_headers.is_empty());
        assert_eq!(
            ConnectionConfig::from_stored("webhook", &webhook.to_stored()),
            Ok(webhook)
        );

        let hubspot =
            ConnectionConfig::from_stored("hubspot", &serde_json::json!({})).expect("hubspot");
        assert_eq!(hubspot.kind(), ConnectionKind::Hubspot);
        assert!(ConnectionConfig::from_stored("carrier_pigeon", &serde_json::json!({})).is_err());
        let missing = ConnectionConfig::from_stored("mailchimp", &serde_json::json!({}));
        assert!(missing.is_err_and(|reason| reason.contains("list_id")));
    }
}
