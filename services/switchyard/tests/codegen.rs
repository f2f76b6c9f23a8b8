//! `switchyard schema codegen --lang rust` on the example schema
//! (`examples/lead.schema.json` as `lead.created` v1): the generated file is
//! checked in as `codegen/lead_events.rs` and compiled into this test, so
//! it must build against `switchyard-client`, and the example payload must
//! round-trip through its type. `SWITCHYARD_BLESS=1` rewrites the file after
//! a deliberate change to the generator; otherwise a difference fails.

// Kept as the generator wrote it: rustfmt would restyle it.
#[rustfmt::skip]
#[allow(dead_code)] // the emit helpers are compiled here, not called
#[path = "codegen/lead_events.rs"]
mod lead_events;

use std::path::PathBuf;

use switchyard::commands::schema::codegen::{EventSchema, rust};

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example_schema() -> EventSchema {
    let text = std::fs::read_to_string(repository().join("examples/lead.schema.json"))
        .expect("the example schema");
    EventSchema {
        event_type: "lead.created".to_string(),
        version: 1,
        schema: serde_json::from_str(&text).expect("JSON"),
        latest: true,
    }
}

#[test]
fn the_checked_in_output_is_what_the_generator_writes() {
    let generated = rust::render(&[example_schema()]).expect("rendered");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/codegen/lead_events.rs");
    if std::env::var_os("SWITCHYARD_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("written");
    }
    let checked_in = std::fs::read_to_string(&path).expect("the checked-in output");
    assert_eq!(
        checked_in, generated,
        "run with SWITCHYARD_BLESS=1 to update"
    );
}

#[test]
fn a_valid_payload_round_trips_through_the_generated_type() {
    let text = std::fs::read_to_string(repository().join("examples/lead.json")).expect("payload");
    let payload: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let lead: lead_events::LeadCreatedV1 =
        serde_json::from_value(payload.clone()).expect("the example is a LeadCreatedV1");
    assert_eq!(lead.email, "grace@example.com");
    assert_eq!(lead.id.as_str(), "lead_2");
    let back = serde_json::to_value(&lead).expect("serialized");
    let fields = payload.as_object().expect("an object");
    assert_eq!(back.as_object().expect("an object").len(), fields.len());
    for (name, value) in fields {
        // `number` is f64 in Rust: 250 comes back as 250.0, the same number.
        match value.as_f64() {
            Some(number) => assert_eq!(back[name].as_f64(), Some(number), "{name}"),
            None => assert_eq!(&back[name], value, "{name}"),
        }
    }
}

#[test]
fn a_payload_the_schema_refuses_does_not_deserialize() {
    let wrong = serde_json::json!({"id": "lead_3", "email": 1});
    let refused = serde_json::from_value::<lead_events::LeadCreatedV1>(wrong);
    assert!(refused.is_err());
    let unknown_source = serde_json::json!({"id": "l", "email": "a@b.c", "source": "tv"});
    assert!(serde_json::from_value::<lead_events::LeadCreatedV1>(unknown_source).is_err());
}
