//! What the broker kinds (RabbitMQ, NATS JetStream) share:
//!
//! - [`Brokers`]: their pooled connections in the engine's `Shared`, one
//!   per Switchyard connection and fingerprint of its settings and
//!   credentials (`super::keyed::Keyed`), so new credentials or a new URL
//!   never reuse an old connection;
//! - [`connect_address`]: the SSRF guard. The broker's host is resolved
//!   through the same `DestinationPolicy` as a webhook's and the broker is
//!   connected to by that address, never by the name again;
//! - [`confirmed`] and [`refused`]: a broker's answer on the scale of an
//!   HTTP answer (200 confirmed, else the broker's reply code);
//! - [`classify`]: 200 succeeds; 403 (access refused) means the
//!   credentials were rejected; any other reply code is a healthy broker
//!   refusing this message (no route, no stream): retried, unless the
//!   connection's policy makes client errors permanent, without moving the
//!   breaker. No answer at all (broker down, timed out) falls back to the
//!   connection's `RetryLogic` like a webhook 5xx: retried, and counted
//!   towards opening the breaker.

use std::net::SocketAddr;

use switchyard_delivery_model::connection::envelope::BrokerMessage;
use switchyard_delivery_model::connection::shape::ShapeError;

use super::Sent;
use super::keyed::Keyed;
use super::rabbitmq::AmqpPool;
use crate::engine::http::{HttpResponse, SendError, SendResult, Sender};
use crate::engine::retry::{Health, RetryAction, RetryLogic};

/// The broker's reply code of a confirmed message (AMQP's reply-success).
pub const CONFIRMED: u16 = 200;
/// Access refused: the broker rejected the credentials.
pub const ACCESS_REFUSED: u16 = 403;

/// The broker connections of every broker connection; cheap to clone.
#[derive(Clone, Default)]
pub struct Brokers {
    pub rabbitmq: Keyed<AmqpPool>,
    pub nats: Keyed<super::nats::NatsClient>,
}

/// One delivery to a broker: the message the kind shaped from the mapped
/// body (a body it cannot shape fails against the connection's own
/// `target`), published by `publish` to where `target_of` names.
pub async fn deliver<Publish, Published>(
    shaped: Result<BrokerMessage, ShapeError>,
    target: impl FnOnce() -> String,
    target_of: impl FnOnce(&BrokerMessage) -> String,
    publish: Publish,
) -> Sent
where
    Publish: FnOnce(BrokerMessage) -> Published,
    Published: std::future::Future<Output = SendResult>,
{
    match shaped {
        Ok(message) => Sent {
            method: None,
            target: target_of(&message),
            result: publish(message).await,
        },
        Err(error) => Sent {
            method: None,
            target: target(),
            result: Err(error.into()),
        },
    }
}

/// The address to connect to for `host:port`, when the policy permits
/// every address the host resolves to.
pub async fn connect_address(
    sender: &Sender,
    host: &str,
    port: u16,
) -> Result<SocketAddr, SendError> {
    let addrs = sender
        .policy()
        .resolve_all_permitted(host, port)
        .await
        .map_err(|reason| SendError::Refused(format!("{host}:{port} {reason}")))?;
    addrs
        .first()
        .copied()
        .ok_or_else(|| SendError::Refused(format!("{host}:{port} resolves to no address")))
}

/// The broker confirmed the message; `snippet` says how (JSON).
pub fn confirmed(snippet: serde_json::Value) -> SendResult {
    Ok(HttpResponse {
        status: CONFIRMED,
        snippet: snippet.to_string(),
        retry_after: None,
    })
}

/// The broker refused the message (or the credentials) with `code`.
pub fn refused(code: u16, reason: String) -> SendResult {
    debug_assert_ne!(code, CONFIRMED);
    Ok(HttpResponse {
        status: code,
        snippet: reason,
        retry_after: None,
    })
}

/// What a broker's answer means; `broker` names it in reasons.
pub fn classify(broker: &str, result: &SendResult, logic: &RetryLogic) -> RetryAction {
    let Ok(response) = result else {
        return logic.classify(result);
    };
    let reason = format!("{broker} {}: {}", response.status, response.snippet);
    match response.status {
        CONFIRMED => RetryAction::Successful,
        ACCESS_REFUSED => RetryAction::CredentialsRejected { reason },
        _ if logic.permanent_client_errors => RetryAction::DontRetry { reason },
        _ => RetryAction::Retry {
            reason,
            retry_after: None,
            health: Health::Neutral,
        },
    }
}

/// The confirmation's fields (JSON snippet) for the attempt's `detail`.
pub fn detail(response: &HttpResponse) -> serde_json::Map<String, serde_json::Value> {
    match super::answer_json(response) {
        Some(serde_json::Value::Object(fields)) if response.status == CONFIRMED => fields,
        _ => serde_json::Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LENIENT: RetryLogic = RetryLogic {
        permanent_client_errors: false,
    };

    #[test]
    fn broker_answers_are_classified() {
        let ack = confirmed(serde_json::json!({"stream": "S", "seq": 1}));
        assert_eq!(classify("NATS", &ack, &LENIENT), RetryAction::Successful);
        let no_route = refused(312, "NO_ROUTE".into());
        assert_eq!(
            classify("RabbitMQ", &no_route, &LENIENT),
            RetryAction::Retry {
                reason: "RabbitMQ 312: NO_ROUTE".into(),
                retry_after: None,
                health: Health::Neutral,
            }
        );
        let strict = RetryLogic {
            permanent_client_errors: true,
        };
        assert!(matches!(
            classify("RabbitMQ", &no_route, &strict),
            RetryAction::DontRetry { .. }
        ));
        assert!(matches!(
            classify("RabbitMQ", &refused(403, "ACCESS_REFUSED".into()), &LENIENT),
            RetryAction::CredentialsRejected { .. }
        ));
        let down = Err(SendError::ConnectionRefused("127.0.0.1:1".into()));
        assert_eq!(classify("NATS", &down, &LENIENT).health(), Health::Failure);
    }

    #[test]
    fn confirmations_become_detail() {
        let Ok(ack) = confirmed(serde_json::json!({"stream": "S", "seq": 7, "duplicate": false}))
        else {
            panic!("confirmed is an answer");
        };
        assert_eq!(detail(&ack).get("seq"), Some(&serde_json::json!(7)));
        let Ok(no_route) = refused(312, "NO_ROUTE".into()) else {
            panic!("refused is an answer");
        };
        assert!(detail(&no_route).is_empty());
    }
}
