//! One event, one trace: an event emitted to two connections — one failing
//! once — yields a single trace holding spans from all four services, with
//! the right parent links, and every attempt (the retry included) inside it.
//! Also: a client's `traceparent` makes the event join the client's trace,
//! receivers get a `traceparent` header, `GetDelivery` links the trace, and
//! `/metrics` shows the counters moving.
//!
//! Its own test binary: it installs the process-wide tracing subscriber.

use std::collections::HashMap;
use std::time::Duration;

use switchyard::receiver::Behaviour;
use switchyard_tests::otlp::{CollectedSpan, OtlpCollector};
use switchyard_tests::{LEAD_CREATED, TestStack};

const CLIENT_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const CLIENT_SPAN: &str = "b7ad6b7169203331";

fn named<'a>(spans: &'a [CollectedSpan], trace: &str, name: &str) -> Vec<&'a CollectedSpan> {
    spans
        .iter()
        .filter(|span| span.trace_id == trace && span.name == name)
        .collect()
}

fn one<'a>(spans: &'a [CollectedSpan], trace: &str, name: &str) -> &'a CollectedSpan {
    let found = named(spans, trace, name);
    assert_eq!(found.len(), 1, "exactly one `{name}` span: {found:#?}");
    found[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_event_is_one_trace_across_services_and_attempts() -> anyhow::Result<()> {
    let collector = OtlpCollector::start().await?;
    let telemetry = collector.install_tracing("info")?;

    let stack = TestStack::start_with(&switchyard_tests::Service::ALL, |config| {
        config.telemetry.jaeger_url = "http://jaeger.example:16686/".to_string();
    })
    .await?;
    stack.register_lead_schema().await?;
    let (flaky, flaky_connection) = stack
        .receiver(Behaviour {
            script: vec![500],
            ..Behaviour::default()
        })
        .await?;
    let (steady, steady_connection) = stack.receiver(Behaviour::default()).await?;

    // The client sends its own trace context: the event joins its trace.
    let event_id = stack
        .emit_traced(
            r#"{"id":"l1","email":"a@example.com"}"#,
            &format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"),
        )
        .await?;
    let deliveries = stack.final_deliveries(&event_id, 2).await?;

    // GetDelivery links the trace.
    for response in &deliveries {
        let delivery = response.delivery.as_ref().expect("delivery");
        assert_eq!(delivery.trace_id, CLIENT_TRACE);
        assert_eq!(
            delivery.trace_url,
            format!("http://jaeger.example:16686/trace/{CLIENT_TRACE}")
        );
    }
    let attempts: usize = deliveries.iter().map(|d| d.attempts.len()).sum();
    assert_eq!(attempts, 3, "one retry and two successes: {deliveries:#?}");

    // Receivers can continue the trace.
    for receiver in [&flaky, &steady] {
        for webhook in receiver.received() {
            let traceparent = webhook.header("traceparent").expect("traceparent header");
            assert!(
                traceparent.starts_with(&format!("00-{CLIENT_TRACE}-")),
                "{traceparent}"
            );
        }
    }

    let spans = collector
        .wait_until(Duration::from_secs(20), |spans| {
            named(spans, CLIENT_TRACE, "delivery.attempt").len() >= 3
                && !named(spans, CLIENT_TRACE, "EmitEvent").is_empty()
        })
        .await?;
    let trace: Vec<&CollectedSpan> = spans
        .iter()
        .filter(|s| s.trace_id == CLIENT_TRACE)
        .collect();
    let services: std::collections::BTreeSet<&str> =
        trace.iter().map(|span| span.service.as_str()).collect();
    for service in [
        "switchyard-ingest",
        "switchyard-registry",
        "switchyard-router",
        "switchyard-delivery",
    ] {
        assert!(
            services.contains(service),
            "{service} missing from {services:?}"
        );
    }

    let server = one(&spans, CLIENT_TRACE, "IngestService/EmitEvent");
    assert_eq!(
        server.parent_span_id, CLIENT_SPAN,
        "the call joins the client's span"
    );
    let emit = one(&spans, CLIENT_TRACE, "EmitEvent");
    assert_eq!(emit.parent_span_id, server.span_id);
    assert_eq!(emit.service, "switchyard-ingest");
    assert_eq!(emit.attribute("switchyard.event_type"), Some(LEAD_CREATED));
    assert_eq!(
        emit.attribute("switchyard.event_id"),
        Some(event_id.as_str())
    );

    let validate = trace
        .iter()
        .find(|span| span.service == "switchyard-registry" && span.name.contains("ValidatePayload"))
        .expect("a registry ValidatePayload span");
    let mut ancestor = validate.parent_span_id.clone();
    let by_id: HashMap<&str, &&CollectedSpan> = trace
        .iter()
        .map(|span| (span.span_id.as_str(), span))
        .collect();
    // The registry's server span hangs off ingest's client call inside EmitEvent.
    while ancestor != emit.span_id {
        ancestor = by_id
            .get(ancestor.as_str())
            .map(|span| span.parent_span_id.clone())
            .filter(|parent| !parent.is_empty())
            .unwrap_or_else(|| panic!("ValidatePayload is not under EmitEvent: {trace:#?}"));
    }

    let route = one(&spans, CLIENT_TRACE, "Route");
    assert_eq!(route.service, "switchyard-router");
    let rules = named(&spans, CLIENT_TRACE, "rule");
    assert_eq!(rules.len(), 2);
    assert!(
        rules
            .iter()
            .all(|rule| rule.parent_span_id == route.span_id)
    );
    assert!(
        rules
            .iter()
            .all(|rule| rule.attribute("switchyard.matched") == Some("true"))
    );
    let enqueues = named(&spans, CLIENT_TRACE, "enqueue");
    assert_eq!(enqueues.len(), 2);
    assert!(
        enqueues
            .iter()
            .all(|span| span.parent_span_id == route.span_id)
    );

    let attempts = named(&spans, CLIENT_TRACE, "delivery.attempt");
    assert_eq!(attempts.len(), 3);
    let enqueue_ids: Vec<&str> = enqueues.iter().map(|span| span.span_id.as_str()).collect();
    for attempt in &attempts {
        assert_eq!(attempt.service, "switchyard-delivery");
        assert!(
            enqueue_ids.contains(&attempt.parent_span_id.as_str()),
            "an attempt's parent is its enqueue span: {attempt:#?}"
        );
        assert_eq!(attempt.attribute("http.request.method"), Some("POST"));
        let url = attempt.attribute("url.full").expect("url.full");
        assert!(
            url.starts_with("http://127.0.0.1:") && url.ends_with("/hook"),
            "{url}"
        );
        assert!(attempt.attribute("switchyard.delivery_id").is_some());
        assert!(attempt.attribute("switchyard.connection_id").is_some());
    }
    let mut codes: Vec<&str> = attempts
        .iter()
        .filter_map(|span| span.attribute("http.response.status_code"))
        .collect();
    codes.sort_unstable();
    assert_eq!(codes, ["204", "204", "500"]);
    let failed = attempts
        .iter()
        .find(|span| span.attribute("http.response.status_code") == Some("500"))
        .expect("the failed attempt");
    assert_eq!(failed.attribute("error.type"), Some("500"));
    assert_eq!(failed.attribute("switchyard.attempt"), Some("1"));
    assert_eq!(failed.attribute("switchyard.outcome"), Some("retrying"));
    assert!(failed.attribute("switchyard.retry_delay_ms").is_some());
    let retry = attempts
        .iter()
        .find(|span| {
            span.attribute("switchyard.delivery_id") == failed.attribute("switchyard.delivery_id")
                && span.attribute("switchyard.attempt") == Some("2")
        })
        .expect("the retry's span is in the same trace");
    assert_eq!(retry.parent_span_id, failed.parent_span_id);
    assert_eq!(retry.attribute("switchyard.outcome"), Some("succeeded"));

    // No secret reaches a span: signing secrets, their key material, the
    // API key.
    let planted = [
        flaky_connection.signing_secret.as_str(),
        steady_connection.signing_secret.as_str(),
        flaky_connection.signing_secret.trim_start_matches("whsec_"),
        stack.api_key.as_str(),
    ];
    assert!(planted.iter().all(|secret| secret.len() > 20));
    for span in &spans {
        for (key, value) in &span.attributes {
            for secret in planted {
                assert!(
                    !value.contains(secret),
                    "span {} attribute {key} holds a secret",
                    span.name
                );
            }
        }
    }

    // /metrics moved.
    let metrics_addr = stack
        .stack
        .metrics_addr()
        .expect("the stack serves /metrics");
    let body = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await?
        .text()
        .await?;
    let sample = |prefix: &str| -> f64 {
        body.lines()
            .filter(|line| line.starts_with(prefix))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    assert_eq!(
        sample("switchyard_events_accepted_total{event_type=\"lead.created\"}"),
        1.0,
        "{body}"
    );
    assert_eq!(
        sample("switchyard_deliveries_total{outcome=\"succeeded\""),
        2.0,
        "{body}"
    );
    assert_eq!(
        sample("switchyard_deliveries_total{outcome=\"retrying\""),
        1.0,
        "{body}"
    );
    assert_eq!(
        sample("switchyard_attempt_duration_seconds_count"),
        3.0,
        "{body}"
    );
    assert!(
        body.contains("switchyard_routing_duration_seconds"),
        "{body}"
    );
    assert!(
        body.contains("switchyard_validation_duration_seconds"),
        "{body}"
    );
    assert!(body.contains("switchyard_stream_length"), "{body}");

    stack.stop().await?;
    telemetry.shutdown();
    Ok(())
}
