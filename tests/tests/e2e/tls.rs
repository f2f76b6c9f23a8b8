//! TLS on every listener, with certificates made at test time: the SDK
//! emits and reads over TLS, a plaintext client is refused, and with
//! mutual TLS the whole path (ingest → registry and router, delivery)
//! works while clients without a trusted certificate are refused.

use std::time::Duration;

use switchyard::receiver::Behaviour;
use switchyard_client::{Client, Endpoints, RetryPolicy, Tls, proto};
use switchyard_tests::{LEAD_CREATED, Service, TestStack};
use tonic::Code;

use crate::pki::Pki;

fn plaintext(endpoints: &Endpoints) -> Endpoints {
    let http = |url: &str| url.replacen("https://", "http://", 1);
    Endpoints {
        registry: http(&endpoints.registry),
        ingest: http(&endpoints.ingest),
        router: http(&endpoints.router),
        delivery: http(&endpoints.delivery),
    }
}

/// The call failed in the transport (the handshake, or the connection the
/// server dropped after it), so the server never answered it: tonic
/// reports `Unavailable` when connecting fails and `Unknown` when the
/// connection breaks under the request, depending on timing.
fn assert_refused_by_transport(status: &tonic::Status) {
    assert!(
        matches!(status.code(), Code::Unavailable | Code::Unknown),
        "{status:?}"
    );
    let source = std::error::Error::source(status).expect("a transport error as the source");
    assert!(
        source.downcast_ref::<tonic::transport::Error>().is_some(),
        "not a transport error: {status:?}"
    );
}

fn lead(id: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "email": "ada@example.com"})
}

#[tokio::test]
async fn the_sdk_emits_and_reads_over_tls_and_plaintext_is_refused() -> anyhow::Result<()> {
    let pki = Pki::new("tls")?;
    let tls_config = pki.services(false)?;
    let stack = TestStack::start_with(&Service::ALL, |config| config.tls = tls_config).await?;
    let endpoints = stack.stack.endpoints();
    assert!(endpoints.ingest.starts_with("https://"), "{endpoints:?}");
    assert!(
        stack
            .stack
            .config()
            .registry_endpoint
            .starts_with("https://")
    );
    assert!(stack.stack.config().router_endpoint.starts_with("https://"));

    let client = Client::connect_lazy_with_tls(
        &endpoints,
        &stack.api_key,
        &Tls::from_files(&pki.ca(), None)?,
    )?;
    client
        .register_schema(LEAD_CREATED, &switchyard_tests::lead_schema(), "a lead")
        .await?;
    let (receiver, _) = stack.receiver(Behaviour::default()).await?;
    let emitted = client.emit(LEAD_CREATED, &lead("tls_1")).await?;
    assert_eq!(emitted.schema_version, 1);
    let received = receiver.wait_for(1, Duration::from_secs(20)).await?;
    assert_eq!(received[0].json()?, lead("tls_1"));
    let history = stack.final_deliveries(&emitted.event_id, 1).await?;
    let delivery = history[0].delivery.clone().unwrap_or_default();
    assert_eq!(delivery.status, proto::DeliveryStatus::Succeeded as i32);
    let event_type = client
        .registry
        .clone()
        .get_event_type(proto::GetEventTypeRequest {
            event_type: LEAD_CREATED.to_string(),
        })
        .await?
        .into_inner();
    assert_eq!(
        event_type.event_type.map(|t| t.latest_version),
        Some(1),
        "read back over TLS"
    );

    // The same listeners, spoken to in plaintext.
    // Retrying a refused handshake only makes the test wait: look at the
    // first refusal.
    let plain = Client::connect_lazy(&plaintext(&endpoints), &stack.api_key)?
        .with_retry(RetryPolicy::never());
    let refused = plain
        .emit(LEAD_CREATED, &lead("plain_1"))
        .await
        .expect_err("a plaintext client must be refused");
    assert_refused_by_transport(&refused);
    // A client that does not trust the servers' CA is refused too.
    let stranger = Pki::new("stranger")?;
    let untrusting = Client::connect_lazy_with_tls(
        &endpoints,
        &stack.api_key,
        &Tls::from_files(&stranger.ca(), None)?,
    )?
    .with_retry(RetryPolicy::never());
    let refused = untrusting
        .emit(LEAD_CREATED, &lead("untrusted_1"))
        .await
        .expect_err("a server certificate from another CA must not be trusted");
    assert_refused_by_transport(&refused);
    assert_eq!(stack.count("SELECT count(*) FROM events").await?, 1);
    stack.stop().await
}

#[tokio::test]
async fn mutual_tls_delivers_end_to_end_and_refuses_clients_without_a_trusted_certificate()
-> anyhow::Result<()> {
    let pki = Pki::new("mtls")?;
    let tls_config = pki.services(true)?;
    assert!(tls_config.client_ca.is_some());
    let stack = TestStack::start_with(&Service::ALL, |config| config.tls = tls_config).await?;
    let endpoints = stack.stack.endpoints();

    let app = pki.issue("app", false, true)?;
    let client = Client::connect_lazy_with_tls(
        &endpoints,
        &stack.api_key,
        &Tls::from_files(&pki.ca(), Some((&app.cert, &app.key)))?,
    )?;
    client
        .register_schema(LEAD_CREATED, &switchyard_tests::lead_schema(), "a lead")
        .await?;
    let (receiver, connection) = stack.receiver(Behaviour::default()).await?;
    // Ingest asks the registry to validate and hands the event to the
    // router, both over mutual TLS.
    let emitted = client.emit(LEAD_CREATED, &lead("mtls_1")).await?;
    assert_eq!(emitted.schema_version, 1);
    let received = receiver.wait_for(1, Duration::from_secs(20)).await?;
    assert_eq!(received[0].json()?, lead("mtls_1"));
    assert_eq!(received[0].signature, Some(Ok(())));
    let history = stack.final_deliveries(&emitted.event_id, 1).await?;
    let delivery = history[0].delivery.clone().unwrap_or_default();
    assert_eq!(delivery.status, proto::DeliveryStatus::Succeeded as i32);
    assert_eq!(delivery.connection_id, connection.id);
    assert_eq!(
        stack
            .count(
                "SELECT count(*) FROM events e \
                 WHERE NOT EXISTS (SELECT 1 FROM events_unrouted u WHERE u.event_id = e.id)",
            )
            .await?,
        1
    );

    // Trusting the CA is not enough: the servers want a certificate.
    let anonymous = Client::connect_lazy_with_tls(
        &endpoints,
        &stack.api_key,
        &Tls::from_files(&pki.ca(), None)?,
    )?
    .with_retry(RetryPolicy::never());
    let refused = anonymous
        .emit(LEAD_CREATED, &lead("anonymous_1"))
        .await
        .expect_err("a client without a certificate must be refused");
    assert_refused_by_transport(&refused);
    // Nor is a certificate from another CA.
    let stranger = Pki::new("mtls-stranger")?;
    let forged = stranger.issue("forged", false, true)?;
    let impostor = Client::connect_lazy_with_tls(
        &endpoints,
        &stack.api_key,
        &Tls::from_files(&pki.ca(), Some((&forged.cert, &forged.key)))?,
    )?
    .with_retry(RetryPolicy::never());
    let refused = impostor
        .list_deliveries(&emitted.event_id)
        .await
        .expect_err("a client certificate from another CA must be refused");
    assert_refused_by_transport(&refused);
    assert_eq!(stack.count("SELECT count(*) FROM events").await?, 1);
    stack.stop().await
}
