//! The compatibility rule table (`switchyard_registry::compat` docs), one
//! row per rule: each row gives what BACKWARD (the new schema reads what the
//! old wrote) and FORWARD (the old schema reads what the new writes) report,
//! and every mode is checked against it: the `_TRANSITIVE` modes match their
//! base mode with one earlier version, FULL reports both columns, NONE
//! nothing. Most rows have an empty column, so each rule shows both verdicts.

use serde_json::{Value, json};
use switchyard_registry::compat::{self, Mode};

struct Row {
    rule: &'static str,
    old: Value,
    new: Value,
    backward: &'static [&'static str],
    forward: &'static [&'static str],
}

fn object(properties: Value) -> Value {
    json!({"type": "object", "properties": properties})
}

fn closed(properties: Value) -> Value {
    json!({"type": "object", "properties": properties, "additionalProperties": false})
}

fn field(schema: Value) -> Value {
    object(json!({"f": schema}))
}

fn content_model_rows() -> Vec<Row> {
    vec![
        Row {
            rule: "property with constraints added to an open model",
            old: object(json!({"id": {"type": "string"}})),
            new: object(json!({"id": {"type": "string"}, "email": {"type": "string"}})),
            backward: &[
                "/properties/email: added to an open content model: old events may carry any value under this name",
            ],
            forward: &[],
        },
        Row {
            rule: "property without constraints added",
            old: object(json!({"id": {"type": "string"}})),
            new: object(json!({"id": {"type": "string"}, "note": {"description": "free text"}})),
            backward: &[],
            forward: &[],
        },
        Row {
            rule: "property added to a closed model",
            old: closed(json!({"id": {"type": "string"}})),
            new: closed(json!({"id": {"type": "string"}, "email": {"type": "string"}})),
            backward: &[],
            forward: &["/properties/email: added, but the old content model is closed"],
        },
        Row {
            rule: "property removed from an open model",
            old: object(json!({"id": {"type": "string"}, "email": {"type": "string"}})),
            new: object(json!({"id": {"type": "string"}})),
            backward: &[],
            forward: &[
                "/properties/email: removed from an open content model: new events may carry any value under this name",
            ],
        },
        Row {
            rule: "property removed from a closed model",
            old: closed(json!({"id": {"type": "string"}, "email": {"type": "string"}})),
            new: closed(json!({"id": {"type": "string"}})),
            backward: &["/properties/email: removed from a closed content model"],
            forward: &[],
        },
        Row {
            rule: "content model closed",
            old: object(json!({"id": {"type": "string"}})),
            new: closed(json!({"id": {"type": "string"}})),
            backward: &["/additionalProperties: closed"],
            forward: &[],
        },
        Row {
            rule: "content model opened",
            old: closed(json!({"id": {"type": "string"}})),
            new: object(json!({"id": {"type": "string"}})),
            backward: &[],
            forward: &["/additionalProperties: opened"],
        },
        Row {
            rule: "content model closed with unevaluatedProperties",
            old: object(json!({"id": {"type": "string"}})),
            new: json!({"type": "object", "properties": {"id": {"type": "string"}}, "unevaluatedProperties": false}),
            backward: &["/unevaluatedProperties: closed"],
            forward: &[],
        },
        Row {
            rule: "additionalProperties narrowed to a schema",
            old: object(json!({})),
            new: json!({"type": "object", "properties": {}, "additionalProperties": {"type": "string"}}),
            backward: &["/additionalProperties/type: narrowed from any type to string"],
            forward: &[],
        },
        Row {
            rule: "name added to required",
            old: json!({"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}, "email": {"type": "string"}}}),
            new: json!({"type": "object", "required": ["id", "email"], "properties": {"id": {"type": "string"}, "email": {"type": "string"}}}),
            backward: &["/properties/email: became required"],
            forward: &[],
        },
        Row {
            rule: "name removed from required",
            old: json!({"type": "object", "required": ["id", "email"], "properties": {"id": {"type": "string"}, "email": {"type": "string"}}}),
            new: json!({"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}, "email": {"type": "string"}}}),
            backward: &[],
            forward: &["/properties/email: is no longer required"],
        },
        Row {
            rule: "nested object: required added two levels down",
            old: object(json!({"address": object(json!({"city": {"type": "string"}}))})),
            new: object(
                json!({"address": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}}),
            ),
            backward: &["/properties/address/properties/city: became required"],
            forward: &[],
        },
    ]
}

fn scalar_rows() -> Vec<Row> {
    vec![
        Row {
            rule: "type narrowed from number to integer",
            old: field(json!({"type": "number"})),
            new: field(json!({"type": "integer"})),
            backward: &["/properties/f/type: narrowed from number to integer"],
            forward: &[],
        },
        Row {
            rule: "type widened from integer to number",
            old: field(json!({"type": "integer"})),
            new: field(json!({"type": "number"})),
            backward: &[],
            forward: &["/properties/f/type: widened from integer to number"],
        },
        Row {
            rule: "null dropped from a type array",
            old: field(json!({"type": ["string", "null"]})),
            new: field(json!({"type": "string"})),
            backward: &["/properties/f/type: narrowed from [null, string] to string"],
            forward: &[],
        },
        Row {
            rule: "enum value added",
            old: field(json!({"enum": ["a", "b"]})),
            new: field(json!({"enum": ["a", "b", "c"]})),
            backward: &[],
            forward: &["/properties/f/enum: value \"c\" added"],
        },
        Row {
            rule: "enum value removed",
            old: field(json!({"enum": ["a", "b"]})),
            new: field(json!({"enum": ["a"]})),
            backward: &["/properties/f/enum: value \"b\" removed"],
            forward: &[],
        },
        Row {
            rule: "const changed",
            old: field(json!({"const": "v1"})),
            new: field(json!({"const": "v2"})),
            backward: &["/properties/f/const: value \"v1\" removed"],
            forward: &["/properties/f/const: value \"v2\" added"],
        },
        Row {
            rule: "enum added to an open string",
            old: field(json!({"type": "string"})),
            new: field(json!({"type": "string", "enum": ["a", "b"]})),
            backward: &["/properties/f/enum: added: only [\"a\", \"b\"] accepted now"],
            forward: &[],
        },
        Row {
            rule: "a listed value outside a new bound",
            old: field(json!({"type": "integer", "enum": [1, 5, 10]})),
            new: field(json!({"type": "integer", "maximum": 5})),
            backward: &["/properties/f/maximum: excludes 10, which the old schema allowed"],
            forward: &["/properties/f/enum: removed: the old schema accepted only [1, 5, 10]"],
        },
        Row {
            rule: "boolean type and its enum spelling",
            old: field(json!({"type": "boolean"})),
            new: field(json!({"enum": [true, false]})),
            backward: &[],
            forward: &[],
        },
        Row {
            rule: "minimum tightened",
            old: field(json!({"type": "number", "minimum": 0})),
            new: field(json!({"type": "number", "minimum": 5})),
            backward: &["/properties/f/minimum: tightened from 0 to 5"],
            forward: &[],
        },
        Row {
            rule: "minimum loosened",
            old: field(json!({"type": "number", "minimum": 5})),
            new: field(json!({"type": "number", "minimum": 0})),
            backward: &[],
            forward: &["/properties/f/minimum: loosened from 5 to 0"],
        },
        Row {
            rule: "maximum added",
            old: field(json!({"type": "number"})),
            new: field(json!({"type": "number", "maximum": 10})),
            backward: &["/properties/f/maximum: added (10)"],
            forward: &[],
        },
        Row {
            rule: "maximum removed",
            old: field(json!({"type": "number", "maximum": 10})),
            new: field(json!({"type": "number"})),
            backward: &[],
            forward: &["/properties/f/maximum: removed (was 10)"],
        },
        Row {
            rule: "maximum made exclusive",
            old: field(json!({"type": "number", "maximum": 10})),
            new: field(json!({"type": "number", "exclusiveMaximum": 10})),
            backward: &[
                "/properties/f/exclusiveMaximum: tightened from maximum 10 to exclusiveMaximum 10",
            ],
            forward: &[],
        },
        Row {
            rule: "equivalent integer bounds",
            old: field(json!({"type": "integer", "exclusiveMinimum": 0})),
            new: field(json!({"type": "integer", "minimum": 1})),
            backward: &[],
            forward: &[],
        },
        Row {
            rule: "multipleOf changed to a multiple",
            old: field(json!({"type": "number", "multipleOf": 2})),
            new: field(json!({"type": "number", "multipleOf": 4})),
            backward: &["/properties/f/multipleOf: changed from 2 to 4"],
            forward: &[],
        },
        Row {
            rule: "maxLength tightened",
            old: field(json!({"type": "string", "maxLength": 100})),
            new: field(json!({"type": "string", "maxLength": 50})),
            backward: &["/properties/f/maxLength: tightened from 100 to 50"],
            forward: &[],
        },
        Row {
            rule: "minLength loosened",
            old: field(json!({"type": "string", "minLength": 3})),
            new: field(json!({"type": "string", "minLength": 1})),
            backward: &[],
            forward: &["/properties/f/minLength: loosened from 3 to 1"],
        },
        Row {
            rule: "pattern added",
            old: field(json!({"type": "string"})),
            new: field(json!({"type": "string", "pattern": "^[a-z]+$"})),
            backward: &["/properties/f/pattern: added ^[a-z]+$"],
            forward: &[],
        },
        Row {
            rule: "pattern changed",
            old: field(json!({"type": "string", "pattern": "^[a-z]+$"})),
            new: field(json!({"type": "string", "pattern": "^[a-z0-9]+$"})),
            backward: &[
                "/properties/f/pattern: cannot prove compatible: changed from ^[a-z]+$ to ^[a-z0-9]+$",
            ],
            forward: &[
                "/properties/f/pattern: cannot prove compatible: changed from ^[a-z]+$ to ^[a-z0-9]+$",
            ],
        },
        Row {
            rule: "format removed",
            old: field(json!({"type": "string", "format": "email"})),
            new: field(json!({"type": "string"})),
            backward: &[],
            forward: &["/properties/f/format: removed (was email)"],
        },
        Row {
            rule: "annotations changed",
            old: field(
                json!({"type": "string", "title": "Old", "description": "old", "examples": ["a"]}),
            ),
            new: field(
                json!({"type": "string", "title": "New", "deprecated": true, "default": "b"}),
            ),
            backward: &[],
            forward: &[],
        },
    ]
}

fn array_and_reference_rows() -> Vec<Row> {
    vec![
        Row {
            rule: "items narrowed",
            old: field(json!({"type": "array", "items": {"type": "number"}})),
            new: field(json!({"type": "array", "items": {"type": "integer"}})),
            backward: &["/properties/f/items/type: narrowed from number to integer"],
            forward: &[],
        },
        Row {
            rule: "maxItems tightened",
            old: field(json!({"type": "array", "maxItems": 10})),
            new: field(json!({"type": "array", "maxItems": 5})),
            backward: &["/properties/f/maxItems: tightened from 10 to 5"],
            forward: &[],
        },
        Row {
            rule: "uniqueItems added",
            old: field(json!({"type": "array"})),
            new: field(json!({"type": "array", "uniqueItems": true})),
            backward: &["/properties/f/uniqueItems: added"],
            forward: &[],
        },
        Row {
            rule: "a tuple position narrowed",
            old: field(
                json!({"type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}]}),
            ),
            new: field(
                json!({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]}),
            ),
            backward: &["/properties/f/prefixItems/1/type: narrowed from number to integer"],
            forward: &[],
        },
        Row {
            rule: "a draft-07 tuple and its 2020-12 spelling",
            old: json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "array", "items": [{"type": "string"}, {"type": "integer"}], "additionalItems": false}),
            new: json!({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false}),
            backward: &[],
            forward: &[],
        },
        Row {
            rule: "a change behind a $ref into $defs",
            old: json!({"$defs": {"money": object(json!({"cents": {"type": "integer"}}))}, "type": "object", "properties": {"total": {"$ref": "#/$defs/money"}}}),
            new: json!({"$defs": {"money": object(json!({"cents": {"type": "number"}}))}, "type": "object", "properties": {"total": {"$ref": "#/$defs/money"}}}),
            backward: &[],
            forward: &["/properties/total/properties/cents/type: widened from integer to number"],
        },
        Row {
            rule: "draft-07 definitions against 2020-12 $defs",
            old: json!({"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"n": {"type": "integer"}}, "properties": {"a": {"$ref": "#/definitions/n"}}}),
            new: json!({"$defs": {"n": {"type": "integer", "minimum": 0}}, "properties": {"a": {"$ref": "#/$defs/n"}}}),
            backward: &["/properties/a/minimum: added (0)"],
            forward: &[],
        },
        Row {
            rule: "a recursive schema",
            old: json!({"type": "object", "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#"}}}}),
            new: json!({"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#"}}}}),
            backward: &["/properties/name: became required"],
            forward: &[],
        },
        Row {
            rule: "anyOf branch added",
            old: field(json!({"anyOf": [{"type": "string"}, {"type": "integer"}]})),
            new: field(
                json!({"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]}),
            ),
            backward: &[],
            forward: &[
                "/properties/f/anyOf: cannot prove compatible: no branch of the old `anyOf` is known to accept branch 2 of the new schema",
            ],
        },
        Row {
            rule: "oneOf changed",
            old: field(json!({"oneOf": [{"type": "string"}, {"type": "integer"}]})),
            new: field(json!({"oneOf": [{"type": "string"}, {"type": "number"}]})),
            backward: &["/properties/f/oneOf: cannot prove compatible: `oneOf` changed"],
            forward: &["/properties/f/oneOf: cannot prove compatible: `oneOf` changed"],
        },
        Row {
            rule: "allOf added",
            old: field(json!({"type": "string"})),
            new: field(json!({"type": "string", "allOf": [{"maxLength": 5}]})),
            backward: &["/properties/f/allOf/0/maxLength: added (5)"],
            forward: &[],
        },
    ]
}

fn expected(row: &Row, mode: Mode) -> Vec<String> {
    let mut expected: Vec<String> = Vec::new();
    if mode.checks_backward() {
        expected.extend(row.backward.iter().map(|line| line.to_string()));
    }
    if mode.checks_forward() {
        for line in row.forward {
            if !expected.iter().any(|known| known == line) {
                expected.push(line.to_string());
            }
        }
    }
    expected
}

fn check_rows(rows: Vec<Row>) {
    for row in rows {
        for mode in Mode::ALL {
            let found: Vec<String> = compat::check(mode, &row.new, &[(1, &row.old)])
                .iter()
                .map(|incompatibility| {
                    assert_eq!(incompatibility.version, 1);
                    incompatibility.describe()
                })
                .collect();
            assert_eq!(
                found,
                expected(&row, mode),
                "rule `{}` under {mode}",
                row.rule
            );
        }
    }
}

#[test]
fn content_model_and_required_rules() {
    check_rows(content_model_rows());
}

#[test]
fn type_enum_and_bound_rules() {
    check_rows(scalar_rows());
}

#[test]
fn array_reference_and_applicator_rules() {
    check_rows(array_and_reference_rows());
}
