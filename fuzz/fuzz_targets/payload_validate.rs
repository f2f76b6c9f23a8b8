//! Payload validation: arbitrary bytes as `payload_json` against a fixed set
//! of realistic schemas, through the registry's own path.
//!
//! Each schema is registered as `RegisterSchema` does it (`schema::check`,
//! then `canonical::normalize` before storing) and compiled as a cold cache
//! compiles a stored version (`schema::compile`); the payload is parsed as
//! `validate_one` parses it and checked with `validate::check`. Beyond "no
//! panic, no hang", the target asserts what callers rely on: the outcome
//! agrees with the validator's own `is_valid`, the violation list is capped
//! and `truncated` is honest, and every violation's paths point into the
//! payload and into the stored schema document.

#![no_main]

use std::sync::LazyLock;

use jsonschema::Validator;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use switchyard_registry::validate::{self, MAX_VIOLATIONS};
use switchyard_registry::{canonical, schema};

/// The `lead.created` schema of the registry's speed measurements (formats,
/// patterns, enums, bounds, a nested object and an array; closed), shared
/// with the bench rather than copied.
#[path = "../../services/registry/benches/fixture/mod.rs"]
mod fixture;

/// A draft-07 order: `definitions` and `$ref`, `oneOf` payment methods,
/// `dependencies`, `additionalProperties` as a schema, `multipleOf` on
/// decimals, `const`, array bounds and `uniqueItems`.
const ORDER_PLACED: &str = r##"{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "required": ["order_id", "lines", "total", "payment"],
  "definitions": {
    "money": {"type": "number", "minimum": 0, "multipleOf": 0.01},
    "line": {
      "type": "object",
      "required": ["sku", "qty", "price"],
      "properties": {
        "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
        "qty": {"type": "integer", "minimum": 1, "maximum": 999},
        "price": {"$ref": "#/definitions/money"}
      },
      "additionalProperties": false
    }
  },
  "properties": {
    "order_id": {"type": "string", "minLength": 1, "maxLength": 64},
    "version": {"const": 1},
    "lines": {"type": "array", "items": {"$ref": "#/definitions/line"}, "minItems": 1, "maxItems": 100},
    "total": {"$ref": "#/definitions/money"},
    "coupons": {"type": "array", "items": {"type": "string"}, "uniqueItems": true},
    "shipped_on": {"type": "string", "format": "date"},
    "payment": {
      "oneOf": [
        {"type": "object", "required": ["card_last4"], "properties": {"card_last4": {"type": "string", "pattern": "^[0-9]{4}$"}}},
        {"type": "object", "required": ["iban"], "properties": {"iban": {"type": "string", "minLength": 15}}},
        {"type": "null"}
      ]
    },
    "gift": {"type": "boolean"},
    "gift_message": {"type": "string", "maxLength": 500}
  },
  "dependencies": {"gift_message": ["gift"]},
  "additionalProperties": {"type": ["string", "number", "boolean", "null"]}
}"##;

/// A 2019-09 invoice: `$defs` with an `$anchor`, `if`/`then`/`else`,
/// `dependentRequired`, `contains` with `minContains`, `patternProperties`,
/// `propertyNames` and `unevaluatedProperties`.
const INVOICE_ISSUED: &str = r##"{
  "$schema": "https://json-schema.org/draft/2019-09/schema",
  "type": "object",
  "$defs": {
    "party": {
      "$anchor": "party",
      "type": "object",
      "required": ["name"],
      "properties": {
        "name": {"type": "string", "minLength": 1},
        "vat": {"type": "string", "pattern": "^[A-Z]{2}[0-9A-Z]{2,12}$"},
        "email": {"type": "string", "format": "idn-email"}
      }
    }
  },
  "properties": {
    "number": {"type": "string"},
    "seller": {"$ref": "#party"},
    "buyer": {"$ref": "#/$defs/party"},
    "currency": {"type": "string", "enum": ["EUR", "USD"]},
    "amount": {"type": "number", "exclusiveMinimum": 0},
    "items": {
      "type": "array",
      "contains": {"type": "object", "required": ["taxable"], "properties": {"taxable": {"const": true}}},
      "minContains": 1,
      "maxContains": 50
    },
    "meta": {
      "type": "object",
      "propertyNames": {"pattern": "^[a-z_]{1,32}$"},
      "patternProperties": {"^x_": {"type": "string"}},
      "maxProperties": 16
    }
  },
  "if": {"properties": {"currency": {"const": "EUR"}}, "required": ["currency"]},
  "then": {"required": ["seller"], "properties": {"seller": {"required": ["vat"]}}},
  "else": {"properties": {"amount": {"maximum": 1000000}}},
  "dependentRequired": {"buyer": ["number"]},
  "unevaluatedProperties": false
}"##;

/// A 2020-12 recursive tree: `$ref: "#"` via `$defs`, `prefixItems`,
/// `anyOf`, `not`, network and time formats, `minProperties`.
const TREE_SYNCED: &str = r##"{
  "type": "object",
  "$defs": {
    "node": {
      "type": "object",
      "required": ["name"],
      "properties": {
        "name": {"type": "string", "not": {"const": ""}},
        "host": {"anyOf": [{"format": "ipv4"}, {"format": "ipv6"}, {"format": "hostname"}]},
        "at": {"type": "string", "format": "time"},
        "every": {"type": "string", "format": "duration"},
        "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false},
        "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}
      },
      "minProperties": 1
    }
  },
  "properties": {"root": {"$ref": "#/$defs/node"}},
  "required": ["root"]
}"##;

/// A compiled schema and the document it was compiled from.
struct Compiled {
    document: Value,
    validator: Validator,
}

static SCHEMAS: LazyLock<Vec<Compiled>> = LazyLock::new(|| {
    let lead = fixture::schema().to_string();
    [lead.as_str(), ORDER_PLACED, INVOICE_ISSUED, TREE_SYNCED]
        .into_iter()
        .map(|text| {
            let checked = schema::check(text)
                .unwrap_or_else(|problem| panic!("fixture schema refused: {problem}"));
            let document = canonical::normalize(checked.document);
            let validator = schema::compile(&document)
                .unwrap_or_else(|problem| panic!("stored fixture does not compile: {problem}"));
            Compiled {
                document,
                validator,
            }
        })
        .collect()
});

fuzz_target!(|data: &[u8]| {
    let schemas = &*SCHEMAS;
    // `payload_json` is a protobuf string: UTF-8 by the time it reaches us.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(payload) = serde_json::from_str::<Value>(text) else {
        return;
    };
    for compiled in schemas {
        let outcome = validate::check(&compiled.validator, &payload);
        assert_eq!(
            outcome.is_valid(),
            compiled.validator.is_valid(&payload),
            "the outcome disagrees with the validator"
        );
        assert!(outcome.violations.len() <= MAX_VIOLATIONS);
        assert!(
            !outcome.truncated || outcome.violations.len() == MAX_VIOLATIONS,
            "truncated with only {} violations",
            outcome.violations.len()
        );
        for violation in &outcome.violations {
            assert!(
                payload.pointer(&violation.instance_path).is_some(),
                "instance path {:?} is not in the payload",
                violation.instance_path
            );
            assert!(
                compiled.document.pointer(&violation.schema_path).is_some(),
                "schema path {:?} is not in the stored schema",
                violation.schema_path
            );
            assert!(!violation.keyword.is_empty());
            assert!(!violation.message.is_empty());
        }
    }
});
