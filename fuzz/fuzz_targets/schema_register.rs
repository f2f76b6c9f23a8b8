//! Schema registration: arbitrary bytes as a `RegisterSchema` document,
//! through the registry's acceptance path and what follows it.
//!
//! `schema::check` either refuses the text with a reason or accepts it; an
//! accepted document is normalised (`canonical::normalize`) as it is before
//! being stored, and must then
//! - normalise to a fixed point through its canonical text,
//! - compile again from the stored form (`schema::compile`: a cold validator
//!   cache does this and treats a failure as our bug, not the caller's),
//!   and validate sample payloads exactly as the validator `check` built did,
//! - go through the compatibility checker (`compat::check`) in every mode
//!   against fixed earlier versions without panicking, and
//! - never be declared compatible when it is not: whenever `compat::compare`
//!   finds nothing between a writer and a reader, every sample payload valid
//!   against the writer must be valid against the reader. Samples are fixed
//!   values plus the `const`, `enum`, `default` and `examples` values found in
//!   the document itself.

#![no_main]

use std::sync::LazyLock;

use jsonschema::Validator;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use switchyard_registry::compat::{self, Mode};
use switchyard_registry::{canonical, schema, validate};

/// Earlier versions (and readers or writers) to compare against: small
/// schemas of different shapes, so the checker's rules each get a chance.
fn fixed_schemas() -> Vec<Value> {
    vec![
        json!({}),
        json!({"type": "object"}),
        json!({
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": "string", "pattern": "^lead_[a-z0-9]+$"},
                "n": {"type": "integer", "minimum": 0},
                "email": {"type": "string", "format": "email"}
            }
        }),
        json!({"type": "object", "additionalProperties": false, "properties": {"a": {"type": "string"}}}),
        json!({"type": ["string", "null"], "maxLength": 10}),
        json!({"type": "number", "minimum": 0, "maximum": 100, "multipleOf": 0.5}),
        json!({"type": "array", "items": {"type": "integer"}, "maxItems": 3, "uniqueItems": true}),
        json!({"enum": [1, "a", null, {"a": 1}, [true]]}),
        json!({
            "$defs": {"n": {"type": "integer"}},
            "type": "object",
            "properties": {"a": {"$ref": "#/$defs/n"}, "b": {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/n"}]}}
        }),
    ]
}

struct Fixed {
    document: Value,
    validator: Validator,
}

static FIXED: LazyLock<Vec<Fixed>> = LazyLock::new(|| {
    fixed_schemas()
        .into_iter()
        .map(|document| {
            let text = document.to_string();
            let checked = schema::check(&text)
                .unwrap_or_else(|problem| panic!("fixed schema {text} refused: {problem}"));
            let document = canonical::normalize(checked.document);
            let validator = schema::compile(&document).expect("fixed schema compiles");
            Fixed {
                document,
                validator,
            }
        })
        .collect()
});

/// Payloads of every JSON type, some matching the fixed schemas.
static SAMPLES: LazyLock<Vec<Value>> = LazyLock::new(|| {
    vec![
        json!(null),
        json!(true),
        json!(false),
        json!(0),
        json!(-1),
        json!(7),
        json!(1.5),
        json!(100.5),
        json!(9_007_199_254_740_993_u64),
        json!(-1e308),
        json!(""),
        json!("a"),
        json!("lead_abc"),
        json!("a@example.com"),
        json!("2024-02-29T12:00:00Z"),
        json!("0192f0a4-7b1c-7d3e-9a4f-2b6c8d0e1f23"),
        json!([]),
        json!([1, 2, 3]),
        json!([1, 1]),
        json!([1, "a", null, 2.5, {}]),
        json!({}),
        json!({"a": "x"}),
        json!({"a": 1, "b": "s"}),
        json!({"id": "lead_1", "n": 3, "email": "a@example.com"}),
        json!({"id": 5}),
        json!({"id": "lead_1", "extra": [1, {"b": null}]}),
        json!({"a": {"b": [1, 2, {"c": "d"}]}, "z": true}),
    ]
});

/// Most sample values taken from one document.
const MAX_DOCUMENT_SAMPLES: usize = 24;

/// `const`, `enum`, `default` and `examples` values anywhere in `value`.
fn document_samples(value: &Value, found: &mut Vec<Value>) {
    if found.len() >= MAX_DOCUMENT_SAMPLES {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("const" | "default", sample) => found.push(sample.clone()),
                    ("enum" | "examples", Value::Array(items)) => {
                        found.extend(items.iter().take(8).cloned());
                    }
                    _ => document_samples(child, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| document_samples(item, found)),
        _ => {}
    }
    found.truncate(MAX_DOCUMENT_SAMPLES);
}

/// Every sample valid against `writer` is valid against `reader`, whenever
/// the compatibility checker finds nothing between them.
fn assert_sound(
    writer: (&Value, &Validator),
    reader: (&Value, &Validator),
    reader_is_new: bool,
    samples: &[&Value],
) {
    if !compat::compare(writer.0, reader.0, reader_is_new).is_empty() {
        return;
    }
    for sample in samples {
        if writer.1.is_valid(sample) {
            assert!(
                reader.1.is_valid(sample),
                "declared compatible, yet {sample} is valid for writer {} but not for reader {}",
                writer.0,
                reader.0
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let fixed = &*FIXED;
    // `json_schema` is a protobuf string.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let checked = match schema::check(text) {
        Ok(checked) => checked,
        Err(problem) => {
            assert!(!problem.to_string().is_empty());
            return;
        }
    };
    let document = canonical::normalize(checked.document);

    let canonical_text = canonical::to_string(&document);
    let reparsed: Value = serde_json::from_str(&canonical_text).expect("canonical text is JSON");
    assert_eq!(
        canonical::normalize(reparsed),
        document,
        "normalising is not a fixed point through {canonical_text}"
    );

    let stored = schema::compile(&document).unwrap_or_else(|problem| {
        panic!("an accepted schema does not compile once stored: {problem}")
    });

    let mut own = Vec::new();
    document_samples(&document, &mut own);
    let samples: Vec<&Value> = SAMPLES.iter().chain(own.iter()).collect();
    for sample in &samples {
        assert_eq!(
            checked.validator.is_valid(sample),
            stored.is_valid(sample),
            "the stored form validates {sample} differently"
        );
        let outcome = validate::check(&stored, sample);
        assert_eq!(outcome.is_valid(), stored.is_valid(sample));
    }

    let earlier: Vec<(u32, &Value)> = fixed
        .iter()
        .zip(1..)
        .map(|(earlier, version)| (version, &earlier.document))
        .collect();
    for mode in Mode::ALL {
        for incompatibility in compat::check(mode, &document, &earlier) {
            assert!(!incompatibility.reason.is_empty());
            assert!(!incompatibility.describe().is_empty());
        }
    }

    let new = (&document, &stored);
    assert_sound(new, new, true, &samples);
    for old in fixed {
        let old = (&old.document, &old.validator);
        // BACKWARD: the new schema reads what the old one wrote.
        assert_sound(old, new, true, &samples);
        // FORWARD: the old schema reads what the new one writes.
        assert_sound(new, old, false, &samples);
    }
});
