//! Destinations: one folder per connection kind behind one trait.
//!
//! The attempt path (`crate::engine::attempt`) knows no kind. For each
//! claimed delivery it asks [`for_connection`] for the kind's
//! [`Destination`], then:
//! 1. [`Destination::deliver`] sends it. An HTTP kind turns the rule's
//!    mapped body and the opened credentials into an [`Outbound`] request
//!    (method, URL, headers, body, and how the API says "wait") and the
//!    shared `Sender` sends it through the SSRF guard ([`send_built`]); a
//!    kind that must first obtain a token (Salesforce) or batches
//!    deliveries (HubSpot) keeps its state in the engine's [`Shared`]. A
//!    broker kind (RabbitMQ, NATS JetStream; see [`broker`]) publishes
//!    through a connection pooled in [`Shared`] and waits for the broker's
//!    confirmation;
//! 2. [`Destination::classify`] reads the answer into a `RetryAction`:
//!    success, retry (with the wait the API asked for), fail without retry,
//!    or credentials rejected — falling back to the connection's
//!    `RetryLogic` for what the API does not say more precisely.
//!
//! Policy, gate, schedule, dead letters, history and tracing stay in the
//! engine. [`Destination::detail`] adds what is particular to the kind to
//! the attempt row (`delivery_attempts.detail`).

mod broker;
pub mod hubspot;
mod keyed;
pub mod mailchimp;
pub mod nats;
pub mod rabbitmq;
pub mod salesforce;
mod tokens;
pub mod webhook;

use switchyard_core::ids::ConnectionId;
use switchyard_delivery_model::connection::{ConnectionConfig, ConnectionKind};

pub use tokens::{CachedToken, TokenCache};

use crate::engine::credentials::Credentials;
use crate::engine::http::{HttpResponse, Outbound, SendError, SendResult, Sender, Timeouts};
use crate::engine::retry::{RetryAction, RetryLogic};

/// What building one request needs.
pub struct Context<'a> {
    pub connection: ConnectionId,
    /// The delivery id (the webhook's `webhook-id`).
    pub delivery_id: &'a str,
    /// The rule's mapped body, else the event's payload.
    pub payload: &'a serde_json::Value,
    pub credentials: &'a Credentials,
    /// Add the current span's `traceparent` to the request.
    pub traceparent: bool,
    /// What kinds keep across attempts (tokens, batchers).
    pub shared: &'a Shared,
}

/// What kinds keep across attempts, per connection: the tokens an auth
/// flow obtained (Salesforce) and the batchers of batching kinds
/// (HubSpot). One per engine; cheap to clone.
#[derive(Clone, Default)]
pub struct Shared {
    pub tokens: TokenCache,
    pub hubspot: hubspot::Batches,
    /// Broker connections (RabbitMQ channels, NATS clients).
    pub brokers: broker::Brokers,
}

/// What one delivery sent and got.
pub struct Sent {
    /// The last request's method; `None` when nothing could be built.
    pub method: Option<reqwest::Method>,
    /// The last request's URL, else the destination's target.
    pub target: String,
    pub result: SendResult,
}

/// One connection kind.
#[async_trait::async_trait]
pub trait Destination: Send + Sync {
    fn kind(&self) -> ConnectionKind;

    /// Where requests go, for the attempt row before any request exists.
    fn target(&self) -> String;

    /// A signed kind cannot send without a signing secret.
    fn signed(&self) -> bool {
        false
    }

    /// Sends one delivery: an HTTP kind builds its request and hands it to
    /// [`send_built`]; a broker kind publishes through its pooled
    /// connection.
    async fn deliver(&self, context: &Context<'_>, sender: &Sender, timeouts: Timeouts) -> Sent;

    /// What the answer means; `logic` holds the connection's defaults.
    fn classify(&self, result: &SendResult, logic: &RetryLogic) -> RetryAction {
        logic.classify(result)
    }

    /// The kind's own fields of an attempt's answer (e.g. an API's error
    /// category), merged into the attempt row's `detail`.
    fn detail(&self, _response: &HttpResponse) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::new()
    }
}

/// Sends a request an HTTP kind built, once; a request that could not be
/// built is the attempt's error, against the destination's `target`.
pub async fn send_built(
    built: Result<Outbound, SendError>,
    target: String,
    sender: &Sender,
    timeouts: Timeouts,
) -> Sent {
    match built {
        Ok(request) => {
            let (method, target) = (request.method.clone(), request.url.clone());
            Sent {
                method: Some(method),
                target,
                result: sender.send(request, timeouts).await,
            }
        }
        Err(error) => Sent {
            method: None,
            target,
            result: Err(error),
        },
    }
}

/// The destination of a connection's stored `kind` and `config`.
pub fn for_connection(
    kind: &str,
    config: &serde_json::Value,
) -> Result<Box<dyn Destination>, SendError> {
    let config = ConnectionConfig::from_stored(kind, config).map_err(SendError::Invalid)?;
    Ok(match config {
        ConnectionConfig::Webhook(config) => Box::new(webhook::Webhook::new(config)),
        ConnectionConfig::Hubspot(config) => Box::new(hubspot::Hubspot::new(config)),
        ConnectionConfig::Mailchimp(config) => Box::new(mailchimp::Mailchimp::new(config)),
        ConnectionConfig::Salesforce(config) => Box::new(salesforce::Salesforce::new(config)),
        ConnectionConfig::Rabbitmq(config) => Box::new(rabbitmq::Rabbitmq::new(config)),
        ConnectionConfig::Nats(config) => Box::new(nats::Nats::new(config)),
    })
}

/// The attempt row's `detail`: the kind, the method, and the kind's own
/// fields of the answer.
pub fn attempt_detail(
    kind: &str,
    method: Option<&reqwest::Method>,
    destination: Option<&dyn Destination>,
    result: Option<&SendResult>,
) -> serde_json::Value {
    let mut detail = serde_json::Map::new();
    let kind = destination.map_or(kind, |destination| destination.kind().as_str());
    detail.insert("kind".into(), kind.into());
    if let Some(method) = method {
        detail.insert("method".into(), method.as_str().into());
    }
    if let (Some(destination), Some(Ok(response))) = (destination, result) {
        detail.extend(destination.detail(response));
    }
    serde_json::Value::Object(detail)
}

/// The headers of every JSON API request: `content-type`, `user-agent`,
/// and the current span's `traceparent` when asked.
pub fn json_headers(traceparent: bool) -> reqwest::header::HeaderMap {
    use reqwest::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        USER_AGENT,
        HeaderValue::from_static(crate::engine::http::USER_AGENT_VALUE),
    );
    if traceparent {
        switchyard_core::telemetry::propagation::inject_current(&mut headers);
    }
    headers
}

/// An `authorization` value holding a secret, marked sensitive so the
/// HTTP stack never prints it.
pub fn secret_header(value: &str) -> Result<reqwest::header::HeaderValue, SendError> {
    let mut value = reqwest::header::HeaderValue::from_str(value)
        .map_err(|_| SendError::Invalid("the credential is not a valid header value".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

/// The JSON request of an HTTP API kind: [`json_headers`], the credential
/// as a sensitive `authorization` value, the body serialized, and how this
/// API says "wait" (`retry_after`).
pub fn json_request(
    method: reqwest::Method,
    url: String,
    authorization: &str,
    body: &serde_json::Value,
    traceparent: bool,
    retry_after: crate::engine::http::RetryAfterReader,
) -> Result<Outbound, SendError> {
    let mut headers = json_headers(traceparent);
    headers.insert(
        reqwest::header::AUTHORIZATION,
        secret_header(authorization)?,
    );
    Ok(Outbound {
        method,
        url,
        headers,
        body: serde_json::to_vec(body)
            .map_err(|error| SendError::Invalid(format!("body: {error}")))?,
        retry_after,
    })
}

/// A test answer of `status` with `body`, for the kinds' answer readers.
#[cfg(test)]
pub fn answered(status: u16, body: serde_json::Value) -> SendResult {
    Ok(HttpResponse {
        status,
        snippet: body.to_string(),
        retry_after: None,
    })
}

/// The answer's body as JSON, when the snippet holds all of it.
pub fn answer_json(response: &HttpResponse) -> Option<serde_json::Value> {
    serde_json::from_str(&response.snippet).ok()
}
