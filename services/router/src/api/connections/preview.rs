//! The exact request a matched rule's delivery would make, for `TestRule`:
//! method, URL, headers and body per connection kind, built by the same
//! `switchyard_delivery_model::connection::shape` functions the delivery engine
//! uses, with every credential masked and nothing sent. Values only known
//! at send time (signatures, the delivery id, Salesforce's instance URL)
//! are named in angle brackets. A broker kind's message (RabbitMQ,
//! NATS) shows as a `PUBLISH` to the broker's URL with its exchange and
//! routing key or subject, built by `switchyard_delivery_model::connection::envelope`
//! like the engine's.

use std::collections::BTreeMap;

use secrecy::ExposeSecret;
use switchyard_core::error::ApiResult;
use switchyard_core::ids::{ConnectionId, WorkspaceId};
use switchyard_delivery_model::connection::envelope::{self, BrokerMessage};
use switchyard_delivery_model::connection::{ConnectionConfig, shape};
use switchyard_tenancy::secrets::{SecretField, store};

use crate::RouterState;
use crate::api::connections::{self, MASK};

/// Salesforce's API root is only known from the token answer.
const INSTANCE_PLACEHOLDER: &str = "https://instance.invalid";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preview {
    pub method: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub body_json: String,
    /// Why the body cannot become a request.
    pub error: String,
    /// Broker kinds: the RabbitMQ exchange and routing key, or the NATS
    /// subject.
    pub exchange: String,
    pub routing_key: String,
    pub subject: String,
}

impl Preview {
    fn http(shaped: Result<shape::Shape, shape::ShapeError>, headers: Headers) -> Self {
        match shaped {
            Ok(shaped) => Self {
                method: shaped.method.to_string(),
                url: shaped.url,
                headers,
                body_json: shaped.body.to_string(),
                ..Self::default()
            },
            Err(error) => Self::refused(error),
        }
    }

    fn refused(error: shape::ShapeError) -> Self {
        Self {
            error: error.to_string(),
            ..Self::default()
        }
    }

    /// A broker message: its fixed headers, then the mapping's.
    fn publish(
        url: &str,
        shaped: Result<BrokerMessage, shape::ShapeError>,
        fixed: &[(&str, &str)],
    ) -> Self {
        let message = match shaped {
            Ok(message) => message,
            Err(error) => return Self::refused(error),
        };
        let mut headers: Headers = fixed
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        headers.extend(message.headers.clone());
        let (exchange, routing_key, subject) = match &message.exchange {
            Some(exchange) => (exchange.clone(), message.route.clone(), String::new()),
            None => (String::new(), String::new(), message.route.clone()),
        };
        Self {
            method: "PUBLISH".to_string(),
            url: url.to_string(),
            headers,
            body_json: message.body.to_string(),
            error: String::new(),
            exchange,
            routing_key,
            subject,
        }
    }
}

type Headers = BTreeMap<String, String>;

/// What every broker message carries besides the mapping's headers.
const TRACEPARENT: (&str, &str) = ("traceparent", "<trace context>");

fn json_headers(authorization: Option<&str>) -> BTreeMap<String, String> {
    let mut headers =
        BTreeMap::from([("content-type".to_string(), "application/json".to_string())]);
    if let Some(scheme) = authorization {
        headers.insert("authorization".into(), format!("{scheme} {MASK}"));
    }
    headers
}

/// The request `connection` would make for `body`.
pub async fn preview(
    state: &RouterState,
    workspace: WorkspaceId,
    connection: ConnectionId,
    body: &serde_json::Value,
) -> ApiResult<Preview> {
    let record = connections::get(&state.pool, workspace, connection).await?;
    Ok(match &record.config {
        ConnectionConfig::Webhook(_) => {
            let webhook = record.masked_webhook();
            let mut headers: BTreeMap<String, String> = webhook.headers.into_iter().collect();
            headers.extend(json_headers(None));
            for (name, value) in [
                ("webhook-id", "<delivery id>"),
                ("webhook-timestamp", "<send time>"),
                ("webhook-signature", "<v1,… per signing secret>"),
            ] {
                headers.insert(name.into(), value.into());
            }
            let shaped = Ok(shape::Shape {
                method: "POST",
                url: webhook.url,
                body: body.clone(),
            });
            Preview::http(shaped, headers)
        }
        ConnectionConfig::Hubspot(config) => {
            Preview::http(shape::hubspot(config, body), json_headers(Some("Bearer")))
        }
        ConnectionConfig::Mailchimp(config) => {
            let base = match &config.base_url {
                Some(base) => base.clone(),
                None => {
                    let client = state.pool.get().await?;
                    let key =
                        store::read(&client, &state.keyring, connection, &SecretField::ApiKey)
                            .await?;
                    let key = key
                        .map(|key| key.expose_secret().to_string())
                        .unwrap_or_default();
                    config
                        .base_url(&key)
                        .unwrap_or_else(|_| "https://<dc>.api.mailchimp.com".to_string())
                }
            };
            Preview::http(
                shape::mailchimp(config, &base, body),
                json_headers(Some("Basic")),
            )
        }
        ConnectionConfig::Salesforce(config) => {
            let shaped = shape::salesforce(config, INSTANCE_PLACEHOLDER, body).map(|mut shaped| {
                shaped.url = shaped
                    .url
                    .replacen(INSTANCE_PLACEHOLDER, "<instance_url>", 1);
                shaped
            });
            Preview::http(shaped, json_headers(Some("Bearer")))
        }
        ConnectionConfig::Rabbitmq(config) => Preview::publish(
            &config.url,
            envelope::rabbitmq(config, body),
            &[
                ("content_type", "application/json"),
                ("delivery_mode", "2 (persistent)"),
                ("message_id", "<delivery id>"),
                ("mandatory", "true"),
                TRACEPARENT,
            ],
        ),
        ConnectionConfig::Nats(config) => Preview::publish(
            &config.url,
            envelope::nats(config, body),
            &[
                ("Content-Type", "application/json"),
                ("Nats-Msg-Id", "<delivery id>"),
                TRACEPARENT,
            ],
        ),
    })
}
