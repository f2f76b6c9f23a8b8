//! One hanging destination beside two healthy ones: the healthy receivers
//! get every delivery while the hanging one holds only its per-connection
//! cap of attempts; its other deliveries wait unclaimed (set aside in its
//! waiting list without a Postgres round trip) instead of taking the
//! engine's slots.

use std::time::{Duration, Instant};

use switchyard::receiver::Behaviour;
use switchyard_client::proto;
use switchyard_tests::{LEAD_CREATED, TestStack};

const CAP: usize = 3;
const EVENTS: usize = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hanging_destination_holds_its_cap_while_healthy_ones_get_everything()
-> anyhow::Result<()> {
    let request_timeout = Duration::from_secs(10);
    let stack = TestStack::start_with(&switchyard_tests::Service::ALL, |config| {
        config.delivery.max_in_flight_per_connection = CAP;
        config.delivery.request_timeout = request_timeout;
        config.delivery.visibility_timeout = Duration::from_secs(20);
    })
    .await?;
    stack.register_lead_schema().await?;
    let hanging = Behaviour {
        delay: Duration::from_secs(60),
        ..Behaviour::default()
    };
    let (stuck, stuck_connection) = stack.receiver(hanging).await?;
    let (first, _) = stack.receiver(Behaviour::default()).await?;
    let (second, _) = stack.receiver(Behaviour::default()).await?;

    let started = Instant::now();
    let events: Vec<proto::EmitEventRequest> = (0..EVENTS)
        .map(|n| proto::EmitEventRequest {
            event_type: LEAD_CREATED.to_string(),
            payload_json: serde_json::json!({"id": format!("lead_{n}"), "email": "a@example.com"})
                .to_string(),
            ..Default::default()
        })
        .collect();
    let results = stack.client.emit_events(events).await?;
    assert!(
        results.iter().all(|r| matches!(
            r.outcome,
            Some(proto::emit_events_result::Outcome::Accepted(_))
        )),
        "{results:?}"
    );

    first.wait_for(EVENTS, Duration::from_secs(30)).await?;
    second.wait_for(EVENTS, Duration::from_secs(30)).await?;
    let elapsed = started.elapsed();
    let stuck_requests = stuck.received().len();
    // Every healthy delivery arrived while the hanging destination held at
    // most its cap per request-timeout window (on a quick run: its cap).
    let windows = 1 + (elapsed.as_secs_f64() / request_timeout.as_secs_f64()).floor() as usize;
    assert!(
        stuck_requests <= CAP * windows,
        "the hanging destination got {stuck_requests} requests in {elapsed:?} (cap {CAP})"
    );
    assert!(stuck_requests >= 1, "the hanging destination was tried");
    // Its deliveries wait unclaimed: no more than the cap are in flight.
    let delivering = stack
        .count(&format!(
            "SELECT count(*) FROM deliveries WHERE status = 'delivering' AND connection_id = '{}'",
            switchyard_core::ids::ConnectionId::parse(&stuck_connection.id)
                .map_err(anyhow::Error::msg)?
                .as_uuid()
        ))
        .await?;
    assert!(
        delivering <= CAP as i64,
        "{delivering} deliveries in flight to the hanging destination"
    );
    // The last webhooks arrived; their outcomes are being recorded.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let healthy_done = stack
            .count("SELECT count(*) FROM deliveries WHERE status = 'succeeded'")
            .await?;
        if healthy_done == (2 * EVENTS) as i64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{healthy_done} healthy deliveries recorded as succeeded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stack.stop().await
}
