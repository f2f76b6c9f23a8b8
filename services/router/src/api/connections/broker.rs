//! RabbitMQ and NATS connections: what `CreateConnection` and
//! `UpdateConnection` accept for them, and how reads show them.
//!
//! The broker's URL carries no credentials; its host must resolve only
//! to addresses the destination policy permits (the SSRF guard a webhook
//! URL passes), checked here and again by the delivery engine at every
//! connect. The password (RabbitMQ; NATS with a user) or token (NATS) is
//! sealed with the connection in the same transaction
//! ([`crate::api::connections::saas::create`]) and read back as [`MASK`]. The
//! route (exchange and routing key, or subject) is checked with the rules
//! the delivery engine applies to a mapping's envelope
//! (`switchyard_delivery_model::connection::envelope`). Validation names the exact
//! field that is missing or wrong.

use switchyard_core::error::{ApiError, ApiResult};
use switchyard_delivery_model::connection::envelope::{
    check_exchange, check_routing_key, check_subject,
};
use switchyard_delivery_model::connection::{
    AMQP_PORT, BrokerAddress, ConnectionConfig, NATS_PORT, NatsConfig, RabbitmqConfig,
};
use switchyard_delivery_model::destination::DestinationPolicy;
use switchyard_proto::v1 as pb;
use switchyard_tenancy::secrets::SecretField;

use crate::api::connections::MASK;
use crate::api::connections::saas::{KindSettings, credential};

/// Broker user names: AMQP short strings hold 255 bytes.
const MAX_USERNAME_LEN: usize = 255;

/// The broker URL, its host resolved and checked now.
async fn broker_url(
    field: &str,
    value: &str,
    scheme: &str,
    default_port: u16,
    policy: &DestinationPolicy,
) -> ApiResult<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::invalid(field, "is required"));
    }
    let address = BrokerAddress::parse(value, scheme, default_port)
        .map_err(|reason| ApiError::invalid(field, reason))?;
    policy
        .resolve_all_permitted(&address.host, address.port)
        .await
        .map_err(|reason| ApiError::invalid(field, reason))?;
    Ok(value.to_string())
}

fn username(field: &str, value: &str) -> ApiResult<String> {
    let value = value.trim();
    if value.len() > MAX_USERNAME_LEN || value.chars().any(char::is_control) {
        return Err(ApiError::invalid(field, "is not a valid user name"));
    }
    Ok(value.to_string())
}

pub async fn validate_rabbitmq(
    message: &pb::RabbitmqConfig,
    policy: &DestinationPolicy,
    creating: bool,
) -> ApiResult<KindSettings> {
    let url = broker_url("rabbitmq.url", &message.url, "amqp", AMQP_PORT, policy).await?;
    let user = username("rabbitmq.username", &message.username)?;
    if user.is_empty() {
        return Err(ApiError::invalid("rabbitmq.username", "is required"));
    }
    let password = credential("rabbitmq.password", &message.password, creating)?;
    let exchange = message.exchange.trim();
    check_exchange(exchange).map_err(|reason| ApiError::invalid("rabbitmq.exchange", reason))?;
    check_routing_key(&message.routing_key)
        .map_err(|reason| ApiError::invalid("rabbitmq.routing_key", reason))?;
    let config = RabbitmqConfig {
        url,
        username: user,
        exchange: exchange.to_string(),
        routing_key: message.routing_key.clone(),
        routed_by_mapping: message.routed_by_mapping,
    };
    Ok(KindSettings {
        config: ConnectionConfig::Rabbitmq(config),
        credential: password.map(|password| (SecretField::Password, password)),
    })
}

pub async fn validate_nats(
    message: &pb::NatsConfig,
    policy: &DestinationPolicy,
    creating: bool,
) -> ApiResult<KindSettings> {
    let url = broker_url("nats.url", &message.url, "nats", NATS_PORT, policy).await?;
    let user = username("nats.username", &message.username)?;
    let token = message.token.trim();
    let password = message.password.trim();
    let (username, token_auth, secret) = if !user.is_empty() {
        if !token.is_empty() {
            return Err(ApiError::invalid(
                "nats.token",
                "cannot be combined with nats.username (a user authenticates with its password)",
            ));
        }
        let password = credential("nats.password", password, creating)?;
        (
            Some(user),
            false,
            password.map(|p| (SecretField::Password, p)),
        )
    } else if !password.is_empty() {
        return Err(ApiError::invalid(
            "nats.password",
            "needs nats.username (or use nats.token)",
        ));
    } else if token.is_empty() {
        (None, false, None)
    } else {
        // The mask keeps the stored token on update.
        let token = credential("nats.token", token, creating)?;
        (None, true, token.map(|t| (SecretField::Token, t)))
    };
    let subject = message.subject.trim();
    if subject.is_empty() {
        if !message.routed_by_mapping {
            return Err(ApiError::invalid(
                "nats.subject",
                "is required (or set routed_by_mapping and let the mapping choose it)",
            ));
        }
    } else {
        check_subject(subject).map_err(|reason| ApiError::invalid("nats.subject", reason))?;
    }
    let config = NatsConfig {
        url,
        username,
        token_auth,
        subject: subject.to_string(),
        routed_by_mapping: message.routed_by_mapping,
    };
    Ok(KindSettings {
        config: ConnectionConfig::Nats(config),
        credential: secret,
    })
}

/// The settings as the API shows them: the password masked.
pub fn rabbitmq_message(config: &RabbitmqConfig) -> pb::RabbitmqConfig {
    pb::RabbitmqConfig {
        url: config.url.clone(),
        username: config.username.clone(),
        password: MASK.to_string(),
        exchange: config.exchange.clone(),
        routing_key: config.routing_key.clone(),
        routed_by_mapping: config.routed_by_mapping,
    }
}

/// The settings as the API shows them: the password or token masked.
pub fn nats_message(config: &NatsConfig) -> pb::NatsConfig {
    let masked = |set: bool| if set { MASK.to_string() } else { String::new() };
    pb::NatsConfig {
        url: config.url.clone(),
        username: config.username.clone().unwrap_or_default(),
        password: masked(config.username.is_some()),
        token: masked(config.token_auth),
        subject: config.subject.clone(),
        routed_by_mapping: config.routed_by_mapping,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> DestinationPolicy {
        DestinationPolicy::new(vec!["127.0.0.0/8".parse().expect("net")])
    }

    fn field_of(result: ApiResult<KindSettings>) -> String {
        match result {
            Err(ApiError::InvalidArgument { field, .. }) => field,
            other => panic!("not an invalid argument: {other:?}"),
        }
    }

    fn rabbit() -> pb::RabbitmqConfig {
        pb::RabbitmqConfig {
            url: "amqp://127.0.0.1:5672".into(),
            username: "guest".into(),
            password: "guest".into(),
            exchange: "amq.topic".into(),
            routing_key: "lead.created".into(),
            routed_by_mapping: false,
        }
    }

    #[tokio::test]
    async fn rabbitmq_settings_are_checked_field_by_field() {
        let settings = validate_rabbitmq(&rabbit(), &open(), true)
            .await
            .expect("valid");
        assert_eq!(
            settings.credential,
            Some((SecretField::Password, "guest".into()))
        );
        let private = validate_rabbitmq(&rabbit(), &DestinationPolicy::default(), true).await;
        assert_eq!(field_of(private), "rabbitmq.url");
        for (change, field) in [
            (
                pb::RabbitmqConfig {
                    url: "amqp://guest:guest@127.0.0.1".into(),
                    ..rabbit()
                },
                "rabbitmq.url",
            ),
            (
                pb::RabbitmqConfig {
                    username: String::new(),
                    ..rabbit()
                },
                "rabbitmq.username",
            ),
            (
                pb::RabbitmqConfig {
                    password: String::new(),
                    ..rabbit()
                },
                "rabbitmq.password",
            ),
            (
                pb::RabbitmqConfig {
                    exchange: "no spaces".into(),
                    ..rabbit()
                },
                "rabbitmq.exchange",
            ),
        ] {
            assert_eq!(
                field_of(validate_rabbitmq(&change, &open(), true).await),
                field
            );
        }
        let keep = pb::RabbitmqConfig {
            password: MASK.into(),
            ..rabbit()
        };
        let kept = validate_rabbitmq(&keep, &open(), false)
            .await
            .expect("update");
        assert_eq!(kept.credential, None);
    }

    #[tokio::test]
    async fn nats_authenticates_by_user_token_or_nothing() {
        let base = pb::NatsConfig {
            url: "nats://127.0.0.1:4222".into(),
            subject: "leads.created".into(),
            ..Default::default()
        };
        let anonymous = validate_nats(&base, &open(), true).await.expect("valid");
        assert_eq!(anonymous.credential, None);
        let token = pb::NatsConfig {
            token: "s3cret".into(),
            ..base.clone()
        };
        let settings = validate_nats(&token, &open(), true).await.expect("token");
        assert_eq!(
            settings.credential,
            Some((SecretField::Token, "s3cret".into()))
        );
        assert!(matches!(settings.config, ConnectionConfig::Nats(ref c) if c.token_auth));
        for (change, field) in [
            (
                pb::NatsConfig {
                    username: "app".into(),
                    ..base.clone()
                },
                "nats.password",
            ),
            (
                pb::NatsConfig {
                    password: "p".into(),
                    ..base.clone()
                },
                "nats.password",
            ),
            (
                pb::NatsConfig {
                    username: "app".into(),
                    password: "p".into(),
                    token: "t".into(),
                    ..base.clone()
                },
                "nats.token",
            ),
            (
                pb::NatsConfig {
                    subject: "leads.*".into(),
                    ..base.clone()
                },
                "nats.subject",
            ),
            (
                pb::NatsConfig {
                    subject: String::new(),
                    ..base.clone()
                },
                "nats.subject",
            ),
            (
                pb::NatsConfig {
                    url: "http://127.0.0.1:4222".into(),
                    ..base.clone()
                },
                "nats.url",
            ),
        ] {
            assert_eq!(field_of(validate_nats(&change, &open(), true).await), field);
        }
    }
}
