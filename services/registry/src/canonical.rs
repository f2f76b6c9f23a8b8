//! Canonical JSON, so that equal schemas compare and print equal whatever
//! their spelling.
//!
//! [`normalize`] rewrites integral numbers as integers (`1e2`, `100.0` and
//! `100` are one number to JSON Schema, but three to `serde_json`); key order
//! never mattered to `Value` equality. Documents are normalised before they
//! are stored, and what Postgres hands back (`jsonb` keeps `100.0` as
//! `100.0`) is normalised again before comparing, so "identical to the latest
//! version" holds across spellings and storage. [`to_string`] prints with
//! keys sorted, whatever map type `serde_json` was built with.

use serde_json::{Number, Value};

/// Largest magnitude below which every integral `f64` converts exactly.
const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0; // 2^53

pub fn normalize(value: Value) -> Value {
    match value {
        Value::Number(number) => Value::Number(normalize_number(number)),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, child)| (key, normalize(child)))
                .collect(),
        ),
        other => other,
    }
}

fn normalize_number(number: Number) -> Number {
    match number.as_f64() {
        Some(float)
            if !number.is_i64()
                && !number.is_u64()
                && float.fract() == 0.0
                && float.abs() < EXACT_INTEGERS =>
        {
            // Checked integral and within 2^53: the cast is exact.
            #[allow(clippy::cast_possible_truncation)]
            Number::from(float as i64)
        }
        _ => number,
    }
}

/// Compact JSON with object keys in byte order.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (index, (key, child)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                // A string's JSON form is infallible; Value's Display too.
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write(child, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(text: &str) -> Value {
        normalize(serde_json::from_str(text).expect("json"))
    }

    #[test]
    fn number_spellings_and_key_order_do_not_matter() {
        let a = parse(r#"{"maximum": 1e2, "minimum": 0.0, "type": "integer", "multipleOf": 0.5}"#);
        let b = parse(r#"{"type": "integer", "multipleOf": 5e-1, "minimum": -0, "maximum": 100}"#);
        assert_eq!(a, b);
        assert_eq!(
            to_string(&a),
            r#"{"maximum":100,"minimum":0,"multipleOf":0.5,"type":"integer"}"#
        );
    }

    #[test]
    fn different_documents_stay_different() {
        assert_ne!(parse(r#"{"maximum": 100.5}"#), parse(r#"{"maximum": 100}"#));
        assert_ne!(parse(r#"{"enum": ["1"]}"#), parse(r#"{"enum": [1]}"#));
    }

    #[test]
    fn nested_values_and_huge_numbers() {
        let value = parse(r#"{"a": [{"b": 2.0}], "c": 1e300}"#);
        assert_eq!(value["a"][0]["b"], json!(2));
        assert!(value["c"].is_f64());
        assert_eq!(
            to_string(&json!({"b": 1, "a": {"d": [], "c": "x\"y"}})),
            r#"{"a":{"c":"x\"y","d":[]},"b":1}"#
        );
    }
}
