//! RabbitMQ and NATS connections through the API: each wrong field named
//! with nothing stored, the SSRF guard on broker hosts, passwords and
//! tokens sealed and read back masked, updates, and `TestRule` showing the
//! exchange or subject, headers and body a delivery would publish.

use switchyard_client::proto;
use switchyard_client::proto::create_connection_request::Destination;
use tonic::Code;

use crate::common::{Harness, create_rule, new_rule};

const MASK: &str = "********";

fn rabbitmq(config: proto::RabbitmqConfig) -> proto::CreateConnectionRequest {
    proto::CreateConnectionRequest {
        name: "events-bus".into(),
        destination: Some(Destination::Rabbitmq(config)),
        policy: None,
    }
}

fn rabbit() -> proto::RabbitmqConfig {
    proto::RabbitmqConfig {
        url: "amqp://127.0.0.1:5672".into(),
        username: "guest".into(),
        password: "rabbit-secret".into(),
        exchange: "amq.topic".into(),
        routing_key: "lead.created".into(),
        routed_by_mapping: false,
    }
}

fn nats(config: proto::NatsConfig) -> proto::CreateConnectionRequest {
    proto::CreateConnectionRequest {
        name: "stream".into(),
        destination: Some(Destination::Nats(config)),
        policy: None,
    }
}

#[tokio::test]
async fn broker_connections_are_validated_sealed_and_masked() {
    let harness = Harness::new().await;
    let running = harness.start_router().await;
    let mut router = running.client.router.clone();

    for (config, field) in [
        (
            proto::RabbitmqConfig {
                url: "amqp://10.0.0.1:5672".into(),
                ..rabbit()
            },
            "rabbitmq.url",
        ),
        (
            proto::RabbitmqConfig {
                url: "amqp://guest:guest@127.0.0.1".into(),
                ..rabbit()
            },
            "rabbitmq.url",
        ),
        (
            proto::RabbitmqConfig {
                password: String::new(),
                ..rabbit()
            },
            "rabbitmq.password",
        ),
        (
            proto::RabbitmqConfig {
                exchange: "no/slashes".into(),
                ..rabbit()
            },
            "rabbitmq.exchange",
        ),
    ] {
        let refused = router
            .create_connection(rabbitmq(config))
            .await
            .expect_err("refused");
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert!(refused.message().contains(field), "{}", refused.message());
    }
    let no_subject = router
        .create_connection(nats(proto::NatsConfig {
            url: "nats://127.0.0.1:4222".into(),
            ..Default::default()
        }))
        .await
        .expect_err("a subject is required");
    assert_eq!(no_subject.code(), Code::InvalidArgument);
    assert!(no_subject.message().contains("nats.subject"));
    let client = harness.pool.get().await.expect("client");
    let stored: i64 = client
        .query_one("SELECT count(*) FROM connections", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(stored, 0, "nothing half-stored");

    let created = router
        .create_connection(rabbitmq(rabbit()))
        .await
        .expect("created")
        .into_inner()
        .connection
        .expect("connection");
    assert_eq!(created.kind, "rabbitmq");
    assert_eq!(
        created.rabbitmq,
        Some(proto::RabbitmqConfig {
            password: MASK.into(),
            ..rabbit()
        })
    );
    let token = router
        .create_connection(nats(proto::NatsConfig {
            url: "nats://127.0.0.1:4222".into(),
            token: "nats-secret-token".into(),
            subject: "leads.created".into(),
            ..Default::default()
        }))
        .await
        .expect("created")
        .into_inner()
        .connection
        .expect("connection");
    let shown = token.nats.expect("nats settings");
    assert_eq!((shown.token.as_str(), shown.password.as_str()), (MASK, ""));
    let rows = client
        .query(
            "SELECT c.kind, s.field, s.ciphertext FROM connections c \
             JOIN connection_secrets s ON s.connection_id = c.id ORDER BY c.kind",
            &[],
        )
        .await
        .expect("rows");
    let fields: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        fields,
        [
            ("nats".to_string(), "token".to_string()),
            ("rabbitmq".to_string(), "password".to_string())
        ]
    );
    for row in &rows {
        let ciphertext: Vec<u8> = row.get(2);
        let text = String::from_utf8_lossy(&ciphertext);
        assert!(!text.contains("rabbit-secret") && !text.contains("nats-secret-token"));
    }

    // An update keeps the masked password and changes the route.
    let updated = router
        .update_connection(proto::UpdateConnectionRequest {
            id: created.id.clone(),
            rabbitmq: Some(proto::RabbitmqConfig {
                password: MASK.into(),
                routing_key: "lead.updated".into(),
                ..rabbit()
            }),
            ..Default::default()
        })
        .await
        .expect("updated")
        .into_inner()
        .connection
        .expect("connection");
    assert_eq!(
        updated.rabbitmq.map(|r| r.routing_key).as_deref(),
        Some("lead.updated")
    );
    let wrong_kind = router
        .update_connection(proto::UpdateConnectionRequest {
            id: created.id,
            nats: Some(proto::NatsConfig {
                url: "nats://127.0.0.1:4222".into(),
                subject: "x".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect_err("a RabbitMQ connection takes no NATS settings");
    assert_eq!(wrong_kind.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn test_rule_shows_the_exchange_or_subject_headers_and_body() {
    let harness = Harness::new().await;
    let running = harness.start_router().await;
    let client = &running.client;
    let mut router = client.router.clone();
    let rabbit_id = router
        .create_connection(rabbitmq(proto::RabbitmqConfig {
            routed_by_mapping: true,
            ..rabbit()
        }))
        .await
        .expect("created")
        .into_inner()
        .connection
        .expect("connection")
        .id;
    let nats_id = router
        .create_connection(nats(proto::NatsConfig {
            url: "nats://127.0.0.1:4222".into(),
            subject: "leads.created".into(),
            ..Default::default()
        }))
        .await
        .expect("created")
        .into_inner()
        .connection
        .expect("connection")
        .id;
    let preview = |connection: String, mapping: &'static str| {
        let client = client.clone();
        async move {
            let rule = create_rule(
                &client,
                proto::CreateRuleRequest {
                    mapping: mapping.into(),
                    ..new_rule("lead.created", &connection)
                },
            )
            .await;
            let request = proto::TestRuleRequest {
                rule: Some(proto::test_rule_request::Rule::RuleId(rule.id)),
                event_type: "lead.created".into(),
                payload_json: r#"{"email": "ada@example.com", "region": "eu"}"#.into(),
            };
            let answer = client
                .router
                .clone()
                .test_rule(request)
                .await
                .expect("test rule")
                .into_inner();
            assert!(!format!("{answer:?}").contains("rabbit-secret"));
            answer.request.expect("a request preview")
        }
    };

    let request = preview(
        rabbit_id,
        r#"{"routing_key": "lead." + event.payload.region, "headers": {"x-region": event.payload.region}, "body": {"email": event.payload.email}}"#,
    )
    .await;
    assert_eq!(request.method, "PUBLISH");
    assert_eq!(request.url, "amqp://127.0.0.1:5672");
    assert_eq!(
        (request.exchange.as_str(), request.routing_key.as_str()),
        ("amq.topic", "lead.eu")
    );
    assert_eq!(request.headers["x-region"], "eu");
    assert_eq!(request.headers["message_id"], "<delivery id>");
    assert_eq!(request.headers["delivery_mode"], "2 (persistent)");
    assert_eq!(request.body_json, r#"{"email":"ada@example.com"}"#);

    let request = preview(nats_id, "").await;
    assert_eq!(request.subject, "leads.created");
    assert_eq!(request.headers["Nats-Msg-Id"], "<delivery id>");
    let body: serde_json::Value = serde_json::from_str(&request.body_json).expect("json");
    assert_eq!(body["email"], "ada@example.com");
}
