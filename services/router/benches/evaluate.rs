//! Condition + mapping evaluation for one event: a 1 KiB payload against 10
//! rules, each with a condition and a mapping, as routing runs them (the
//! event bound once per event, compiled programs reused).
//!
//! `cargo bench -p switchyard-router --bench evaluate`; criterion reports
//! the time per event and, with the throughput set to one element, events
//! per second on one core.

use std::hint::black_box;

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use switchyard_router::expr::{self, EventFields, EventScope, Outcome, RuleProgram};

fn payload() -> serde_json::Value {
    json!({
        "id": "lead_01J9ZQ6W3X7K2M4N5P6Q7R8S9T",
        "email": "ada.lovelace@example.com",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "phone": "+44 20 7946 0958",
        "amount": 250.5,
        "currency": "GBP",
        "source": "ads",
        "country": "GB",
        "score": 87,
        "consent": true,
        "tags": ["vip", "newsletter", "beta", "conference-2025"],
        "company": {
            "name": "Analytical Engines Ltd",
            "size": 42,
            "industry": "computing",
            "website": "https://engines.example.com",
            "address": {"street": "12 St James's Square", "city": "London", "zip": "SW1Y 4JH", "country": "GB"}
        },
        "utm": {"campaign": "autumn-2025", "medium": "cpc", "source": "search", "term": "difference engine"},
        "jobTitle": "Head of Computation and Analytical Engine Programming",
        "referrer": "https://www.example.org/blog/notes-on-the-analytical-engine?ref=newsletter",
        "notes": "Met at the conference; wants a demo of the integration layer next week, prefers email contact over phone.",
        "items": [
            {"sku": "ENG-1", "qty": 2, "price": 10.0},
            {"sku": "ENG-2", "qty": 1, "price": 99.9},
            {"sku": "ENG-3", "qty": 5, "price": 1.25}
        ]
    })
}

fn rules() -> Vec<RuleProgram> {
    let specs: [(&str, &str); 10] = [
        (
            r#"event.payload.source == "ads" && event.payload.amount > 100"#,
            r#"{"email": event.payload.email, "properties": {"firstname": event.payload.firstName, "lastname": event.payload.lastName}}"#,
        ),
        (
            r#"event.payload.country in ["GB", "IE"]"#,
            r#"{"to": event.payload.email, "name": event.payload.firstName + " " + event.payload.lastName}"#,
        ),
        (
            r#""vip" in event.payload.tags"#,
            r#"{"company": event.payload.company.name, "city": event.payload.company.address.city}"#,
        ),
        (
            "event.payload.score >= 50 && event.payload.consent",
            r#"{"lead": event.payload.id, "score": event.payload.score}"#,
        ),
        (
            r#"has(event.payload.utm) && event.payload.utm.medium == "cpc""#,
            r#"{"campaign": event.payload.utm.campaign, "term": event.payload.utm.term}"#,
        ),
        (
            r#"event.payload.email.endsWith("@example.com")"#,
            r#"{"email": event.payload.email, "phone": has(event.payload.phone) ? event.payload.phone : ""}"#,
        ),
        (
            "event.payload.company.size > 10",
            r#"{"type": event.type, "id": event.id, "size": event.payload.company.size}"#,
        ),
        (
            r#"event.type == "lead.created""#,
            r#"[event.payload.id, event.payload.email, event.payload.currency]"#,
        ),
        (
            "event.payload.items.exists(i, i.price > 50.0)",
            r#"{"skus": event.payload.items.map(i, i.sku)}"#,
        ),
        (
            r#"event.payload.amount > 1000 || event.payload.source != "seo""#,
            r#"{"amount": event.payload.amount, "currency": event.payload.currency, "source": event.payload.source}"#,
        ),
    ];
    specs
        .iter()
        .map(|(condition, mapping)| expr::compile_rule(condition, mapping).expect("compiles"))
        .collect()
}

fn evaluate(c: &mut Criterion) {
    let payload = payload();
    assert!(
        (900..=1200).contains(&payload.to_string().len()),
        "the payload is about 1 KiB: {}",
        payload.to_string().len()
    );
    let rules = rules();
    let received_at = Utc::now();
    let run = || {
        let fields = EventFields {
            event_type: "lead.created",
            id: "evt_01J9ZQ6W3X7K2M4N5P6Q7R8S9T",
            payload: &payload,
            received_at,
            schema_version: 3,
        };
        let scope = EventScope::new(&fields);
        rules
            .iter()
            .map(|rule| scope.outcome(rule))
            .collect::<Vec<_>>()
    };
    let outcomes = run();
    assert!(
        outcomes
            .iter()
            .all(|outcome| matches!(outcome, Outcome::Matched { body: Some(_) })),
        "every rule matches and maps: {outcomes:?}"
    );

    let mut group = c.benchmark_group("evaluate");
    group.throughput(Throughput::Elements(1));
    group.bench_function("1 KiB payload, 10 rules with condition and mapping", |b| {
        b.iter(|| black_box(run()))
    });
    group.finish();
}

criterion_group!(benches, evaluate);
criterion_main!(benches);
