//! What a broker kind publishes for one mapped body, computed in one place
//! for the delivery engine (which publishes it) and for `TestRule` (which
//! shows it):
//!
//! - without `routed_by_mapping`, the mapped body is the message (as JSON)
//!   and the route is the connection's (exchange and routing key, or
//!   subject);
//! - with it, the mapping builds an envelope `{"body": …, "headers": {…},
//!   "exchange"/"routing_key"` (RabbitMQ) or `"subject"` (NATS)`}`: `body`
//!   is the message, `headers` are added to it, and a route field the
//!   envelope leaves out is the connection's.
//!
//! Headers Switchyard sets itself (`traceparent`, NATS's `Nats-*`) cannot
//! come from a mapping. [`check_exchange`], [`check_routing_key`] and
//! [`check_subject`] also validate the connection's own route.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::shape::{ShapeError, text_of};
use super::{NatsConfig, RabbitmqConfig};

/// One message, ready to publish (without what is known only at send
/// time: the delivery id and the trace context).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerMessage {
    /// RabbitMQ's exchange (empty: the default exchange); `None` for NATS.
    pub exchange: Option<String>,
    /// RabbitMQ's routing key, or NATS's subject.
    pub route: String,
    /// Headers the mapping added.
    pub headers: BTreeMap<String, String>,
    pub body: Value,
}

impl BrokerMessage {
    /// The body as published: JSON.
    pub fn payload(&self) -> Vec<u8> {
        self.body.to_string().into_bytes()
    }
}

/// AMQP short strings (exchange names, routing keys) hold 255 bytes.
const AMQP_SHORT_STRING: usize = 255;

/// An exchange name as RabbitMQ accepts it: letters, digits, `-_.:`.
pub fn check_exchange(name: &str) -> Result<(), String> {
    if name.len() > AMQP_SHORT_STRING {
        return Err("is longer than 255 bytes".to_string());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        return Err("may hold only letters, digits, `-`, `_`, `.` and `:`".to_string());
    }
    Ok(())
}

pub fn check_routing_key(key: &str) -> Result<(), String> {
    if key.len() > AMQP_SHORT_STRING {
        return Err("is longer than 255 bytes".to_string());
    }
    Ok(())
}

/// A subject a message can be published to: dot-separated tokens, none
/// empty, no wildcard, no white space.
pub fn check_subject(subject: &str) -> Result<(), String> {
    if subject.is_empty() {
        return Err("is empty".to_string());
    }
    if subject.chars().any(char::is_whitespace) {
        return Err("must not contain white space".to_string());
    }
    for token in subject.split('.') {
        if token.is_empty() {
            return Err("has an empty token (`..`, or a leading or trailing `.`)".to_string());
        }
        if token == "*" || token == ">" {
            return Err("must not contain wildcards (`*`, `>`)".to_string());
        }
    }
    Ok(())
}

/// True when a mapping may not set the header `name`.
fn is_reserved(name: &str, nats: bool) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "traceparent" || lower == "tracestate" || (nats && lower.starts_with("nats-"))
}

/// An envelope's fields, checked against the kind's route fields.
struct Envelope {
    body: Value,
    headers: BTreeMap<String, String>,
    fields: Map<String, Value>,
}

fn open_envelope(
    mapped: &Value,
    route_fields: &[&str],
    nats: bool,
) -> Result<Envelope, ShapeError> {
    let Some(object) = mapped.as_object() else {
        return Err(ShapeError::Unsendable(
            "the mapping must build an envelope object with `body`".into(),
        ));
    };
    let mut fields = object.clone();
    let body = fields
        .remove("body")
        .ok_or_else(|| ShapeError::Unsendable("the mapped envelope has no `body`".to_string()))?;
    let mut headers = BTreeMap::new();
    match fields.remove("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, value) in map {
                if is_reserved(&name, nats) {
                    return Err(ShapeError::Unsendable(format!(
                        "header `{name}` is set by Switchyard, not by the mapping"
                    )));
                }
                if name.is_empty() || name.len() > AMQP_SHORT_STRING {
                    return Err(ShapeError::Unsendable(format!(
                        "header name `{name}` is empty or longer than 255 bytes"
                    )));
                }
                if nats && name.chars().any(|c| c == ':' || c.is_whitespace()) {
                    return Err(ShapeError::Unsendable(format!(
                        "header name `{name}` holds `:` or white space"
                    )));
                }
                let text = text_of(&value).ok_or_else(|| {
                    ShapeError::Unsendable(format!(
                        "header `{name}` is not a string, number or boolean"
                    ))
                })?;
                if nats && text.contains(['\r', '\n']) {
                    return Err(ShapeError::Unsendable(format!(
                        "header `{name}` holds a line break"
                    )));
                }
                headers.insert(name, text);
            }
        }
        Some(_) => {
            return Err(ShapeError::Unsendable(
                "the envelope's `headers` is not an object".into(),
            ));
        }
    }
    if let Some(unknown) = fields
        .keys()
        .find(|key| !route_fields.contains(&key.as_str()))
    {
        let mut expected = vec!["body", "headers"];
        expected.extend_from_slice(route_fields);
        return Err(ShapeError::Unsendable(format!(
            "the envelope has an unknown field `{unknown}` (expected {})",
            expected.join(", ")
        )));
    }
    Ok(Envelope {
        body,
        headers,
        fields,
    })
}

/// A route field of the envelope as text, else `default`.
fn route_field(envelope: &Envelope, name: &str, default: &str) -> Result<String, ShapeError> {
    match envelope.fields.get(name) {
        None | Some(Value::Null) => Ok(default.to_string()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(ShapeError::Unsendable(format!(
            "the envelope's `{name}` is not a string"
        ))),
    }
}

pub fn rabbitmq(config: &RabbitmqConfig, mapped: &Value) -> Result<BrokerMessage, ShapeError> {
    if !config.routed_by_mapping {
        return Ok(BrokerMessage {
            exchange: Some(config.exchange.clone()),
            route: config.routing_key.clone(),
            headers: BTreeMap::new(),
            body: mapped.clone(),
        });
    }
    let envelope = open_envelope(mapped, &["exchange", "routing_key"], false)?;
    let exchange = route_field(&envelope, "exchange", &config.exchange)?;
    check_exchange(&exchange)
        .map_err(|reason| ShapeError::Unsendable(format!("exchange `{exchange}` {reason}")))?;
    let routing_key = route_field(&envelope, "routing_key", &config.routing_key)?;
    check_routing_key(&routing_key)
        .map_err(|reason| ShapeError::Unsendable(format!("the routing key {reason}")))?;
    Ok(BrokerMessage {
        exchange: Some(exchange),
        route: routing_key,
        headers: envelope.headers,
        body: envelope.body,
    })
}

pub fn nats(config: &NatsConfig, mapped: &Value) -> Result<BrokerMessage, ShapeError> {
    if !config.routed_by_mapping {
        return Ok(BrokerMessage {
            exchange: None,
            route: config.subject.clone(),
            headers: BTreeMap::new(),
            body: mapped.clone(),
        });
    }
    let envelope = open_envelope(mapped, &["subject"], true)?;
    let subject = route_field(&envelope, "subject", &config.subject)?;
    if subject.is_empty() {
        return Err(ShapeError::Unsendable(
            "the envelope sets no `subject` and the connection has none".into(),
        ));
    }
    check_subject(&subject)
        .map_err(|reason| ShapeError::Unsendable(format!("subject `{subject}` {reason}")))?;
    Ok(BrokerMessage {
        exchange: None,
        route: subject,
        headers: envelope.headers,
        body: envelope.body,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rabbit(routed: bool) -> RabbitmqConfig {
        RabbitmqConfig {
            url: "amqp://127.0.0.1".into(),
            username: "guest".into(),
            exchange: "leads".into(),
            routing_key: "lead.created".into(),
            routed_by_mapping: routed,
        }
    }

    #[test]
    fn the_mapped_body_is_the_message_unless_routed_by_mapping() {
        let body = json!({"id": "l1", "body": "not an envelope"});
        let plain = rabbitmq(&rabbit(false), &body).expect("plain");
        assert_eq!(plain.exchange.as_deref(), Some("leads"));
        assert_eq!(plain.route, "lead.created");
        assert_eq!(plain.body, body);
        assert_eq!(plain.payload(), body.to_string().into_bytes());

        let routed = rabbitmq(
            &rabbit(true),
            &json!({"routing_key": "lead.eu", "headers": {"x-region": "eu", "x-n": 3},
                    "body": {"id": "l1"}}),
        )
        .expect("routed");
        assert_eq!(routed.exchange.as_deref(), Some("leads"));
        assert_eq!(routed.route, "lead.eu");
        assert_eq!(
            routed.headers,
            BTreeMap::from([("x-n".into(), "3".into()), ("x-region".into(), "eu".into())])
        );
        assert_eq!(routed.body, json!({"id": "l1"}));
    }

    #[test]
    fn envelopes_are_checked() {
        for (mapped, says) in [
            (json!({"id": 1}), "no `body`"),
            (json!({"body": 1, "queue": "q"}), "unknown field `queue`"),
            (
                json!({"body": 1, "exchange": "bad name"}),
                "exchange `bad name`",
            ),
            (
                json!({"body": 1, "headers": {"traceparent": "x"}}),
                "set by Switchyard",
            ),
            (json!({"body": 1, "headers": {"a": [1]}}), "not a string"),
            (json!("text"), "envelope object"),
        ] {
            let error = rabbitmq(&rabbit(true), &mapped).expect_err("refused");
            assert!(
                matches!(&error, ShapeError::Unsendable(reason) if reason.contains(says)),
                "{mapped}: {error}"
            );
        }
    }

    #[test]
    fn nats_subjects_come_from_the_connection_or_the_envelope() {
        let mut config = NatsConfig {
            url: "nats://127.0.0.1".into(),
            username: None,
            token_auth: false,
            subject: String::new(),
            routed_by_mapping: true,
        };
        let missing = nats(&config, &json!({"body": {}}));
        assert!(missing.is_err_and(|e| e.to_string().contains("no `subject`")));
        let message = nats(&config, &json!({"subject": "leads.eu", "body": {"a": 1}})).expect("ok");
        assert_eq!(message.route, "leads.eu");
        assert!(nats(&config, &json!({"subject": "leads.*", "body": 1})).is_err());
        assert!(
            nats(
                &config,
                &json!({"subject": "a", "body": 1, "headers": {"Nats-Msg-Id": "x"}})
            )
            .is_err()
        );
        config.subject = "leads".into();
        assert_eq!(
            nats(&config, &json!({"body": 1})).expect("default").route,
            "leads"
        );
    }

    #[test]
    fn subjects_and_exchanges() {
        assert!(check_subject("orders.eu.created").is_ok());
        for bad in ["", "a..b", ".a", "a.", "a b", "a.>", "*"] {
            assert!(check_subject(bad).is_err(), "{bad}");
        }
        assert!(check_exchange("").is_ok());
        assert!(check_exchange("amq.topic").is_ok());
        assert!(check_exchange("a/b").is_err());
        assert!(check_routing_key(&"k".repeat(256)).is_err());
    }
}
