//! Rule expressions: arbitrary text through the router's CEL compiler and,
//! when accepted, its bounded evaluator.
//!
//! The input is a rule's expression text. Without a NUL byte the whole text
//! is compiled both as a condition and as a mapping (`expr::compile`, what a
//! saved rule's `RuleSpec::validate` and the rule cache run through
//! `expr::compile_rule`); with one, the text before it is the condition and
//! the text after it the mapping, compiled together by `expr::compile_rule`.
//! Accepted programs are run against sample events with
//! `EventScope::outcome`, exactly as routing and `TestRule` run them.
//!
//! Asserted beyond "no panic, no hang": refusals carry the documented
//! `line:col: ` prefix, and a mapping's body is JSON within the body limit.

#![no_main]

use std::sync::Arc;
use std::sync::LazyLock;

use chrono::{DateTime, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use switchyard_router::expr::json::MAX_BODY_BYTES;
use switchyard_router::expr::{
    self, CompileError, EventFields, EventScope, Outcome, Program, Role, RuleProgram,
};

#[path = "../../services/router/src/expr/sample.rs"]
mod sample;

/// Payloads to evaluate against: the router tests' realistic lead, an empty
/// one (what `compile` samples with), and one of awkward values.
static PAYLOADS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    vec![
        sample::lead_payload(),
        json!({}),
        json!({
            "big": u64::MAX,
            "min": i64::MIN,
            "max": i64::MAX,
            "huge": 1e308,
            "tiny": -5e-324,
            "zero": 0,
            "text": "x".repeat(600),
            "unicode": "Grüße, 世界 🎉",
            "empty": "",
            "list": (0..200).collect::<Vec<i32>>(),
            "nested": [[[[[[[[1]]]]]]]],
            "mixed": [1, "a", null, true, 2.5, {"k": []}],
            "keys": {"": 1, "a.b": 2, "0": 3, "true": 4},
            "date": "2025-03-14T15:09:26Z",
            "span": "1h30m"
        }),
    ]
});

fn received_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 15, 9, 26)
        .single()
        .expect("a valid instant")
}

fn assert_well_formed(error: &CompileError) {
    let mut parts = error.reason.splitn(3, ':');
    let line = parts.next().unwrap_or_default();
    let column = parts.next().unwrap_or_default();
    let rest = parts.next().unwrap_or_default();
    assert!(
        !line.is_empty()
            && line.bytes().all(|b| b.is_ascii_digit())
            && !column.is_empty()
            && column.bytes().all(|b| b.is_ascii_digit())
            && rest.starts_with(' '),
        "a refusal without its `line:col: ` prefix: {:?}",
        error.reason
    );
}

fn compile(role: Role, source: &str) -> Option<Arc<Program>> {
    match expr::compile(role, source) {
        Ok(program) => program,
        Err(error) => {
            assert_eq!(error.role, role);
            assert_well_formed(&error);
            None
        }
    }
}

fn run(rule: &RuleProgram) {
    for (index, payload) in PAYLOADS.iter().enumerate() {
        let fields = EventFields {
            event_type: "lead.created",
            id: "evt_0192f0a47b1c7d3e9a4f2b6c8d0e1f23",
            payload,
            received_at: received_at(),
            schema_version: i64::try_from(index).unwrap_or(0) + 1,
        };
        let scope = EventScope::new(&fields);
        if let Some(condition) = &rule.condition {
            let _ = scope.condition(condition);
        }
        if let Some(mapping) = &rule.mapping
            && let Ok(body) = scope.mapping(mapping)
        {
            assert!(body.len() <= MAX_BODY_BYTES);
            serde_json::from_str::<Value>(&body)
                .unwrap_or_else(|error| panic!("a mapped body is not JSON ({error}): {body}"));
        }
        match scope.outcome(rule) {
            Outcome::Matched { body: Some(body) } => {
                assert!(body.len() <= MAX_BODY_BYTES);
            }
            Outcome::Matched { body: None } => assert!(rule.mapping.is_none()),
            Outcome::NotMatched => assert!(rule.condition.is_some()),
            Outcome::Failed { error } => {
                assert!(
                    ["condition: ", "mapping: ", "ordering_key: "]
                        .iter()
                        .any(|role| error.starts_with(role)),
                    "{error}"
                );
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // Expressions arrive as protobuf strings.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let rule = match text.split_once('\0') {
        None => RuleProgram {
            condition: compile(Role::Condition, text),
            mapping: compile(Role::Mapping, text),
            ordering_key: compile(Role::OrderingKey, text),
        },
        Some((condition, mapping)) => match expr::compile_rule(condition, mapping) {
            Ok(rule) => rule,
            Err(error) => {
                assert_well_formed(&error);
                return;
            }
        },
    };
    if rule.is_trivial() {
        return;
    }
    run(&rule);
});
