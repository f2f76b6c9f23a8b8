//! Compatibility beyond single rules: which versions each mode compares,
//! how findings name their place, and the cases the checker cannot prove.

use serde_json::{Value, json};
use switchyard_registry::compat::{self, Mode};

fn described(mode: Mode, new: &Value, earlier: &[(u32, &Value)]) -> Vec<(u32, String)> {
    compat::check(mode, new, earlier)
        .iter()
        .map(|found| (found.version, found.describe()))
        .collect()
}

#[test]
fn transitive_modes_compare_every_earlier_version() {
    // v2 dropped `legacy` from a closed model (registered under NONE); v3
    // equals v2 plus an optional field, so it only breaks v1.
    let v1 = json!({"type": "object", "additionalProperties": false,
                    "properties": {"id": {"type": "string"}, "legacy": {"type": "string"}}});
    let v2 = json!({"type": "object", "additionalProperties": false,
                    "properties": {"id": {"type": "string"}}});
    let v3 = json!({"type": "object", "additionalProperties": false,
                    "properties": {"id": {"type": "string"}, "note": {"type": "string"}}});
    let earlier = [(1, &v1), (2, &v2)];

    assert_eq!(described(Mode::Backward, &v3, &earlier), []);
    assert_eq!(
        described(Mode::BackwardTransitive, &v3, &earlier),
        [(
            1,
            "/properties/legacy: removed from a closed content model".to_string()
        )]
    );
    assert_eq!(
        described(Mode::Forward, &v3, &earlier),
        [(
            2,
            "/properties/note: added, but the old content model is closed".to_string()
        )]
    );
    assert_eq!(
        described(Mode::ForwardTransitive, &v3, &earlier),
        [
            (
                1,
                "/properties/note: added, but the old content model is closed".to_string()
            ),
            (
                2,
                "/properties/note: added, but the old content model is closed".to_string()
            ),
        ]
    );
    assert_eq!(described(Mode::FullTransitive, &v3, &earlier).len(), 3);
    assert_eq!(described(Mode::None, &v3, &earlier), []);
    assert_eq!(described(Mode::FullTransitive, &v3, &[]), []);
}

#[test]
fn pointers_escape_names_and_name_the_root() {
    let old = json!({"type": "object", "properties": {"a/b": {}, "c~d": {}}});
    let new =
        json!({"type": "object", "required": ["a/b", "c~d"], "properties": {"a/b": {}, "c~d": {}}});
    assert_eq!(
        described(Mode::Backward, &new, &[(1, &old)]),
        [
            (1, "/properties/a~1b: became required".to_string()),
            (1, "/properties/c~0d: became required".to_string()),
        ]
    );
    let root = described(Mode::Backward, &json!(false), &[(1, &json!({}))]);
    assert_eq!(
        root,
        [(
            1,
            "/: is now false: rejects every value the old schema allowed here".to_string()
        )]
    );
    assert_eq!(
        described(
            Mode::Backward,
            &json!({"type": "string"}),
            &[(1, &json!({}))]
        ),
        [(1, "/type: narrowed from any type to string".to_string())]
    );
}

#[test]
fn mutually_recursive_definitions_end() {
    let schema = |leaf: &str| {
        json!({
            "$defs": {
                "a": {"type": "object", "properties": {"b": {"$ref": "#/$defs/b"}}},
                "b": {"type": "object", "properties": {"a": {"$ref": "#/$defs/a"}, "leaf": {"type": leaf}}}
            },
            "$ref": "#/$defs/a"
        })
    };
    let (old, new) = (schema("number"), schema("integer"));
    assert_eq!(
        described(Mode::Full, &new, &[(1, &old)]),
        [(
            1,
            "/properties/b/properties/leaf/type: narrowed from number to integer".to_string()
        )]
    );
    assert_eq!(described(Mode::Full, &old, &[(1, &old)]), []);
}

#[test]
fn pattern_properties_and_property_names() {
    let old = json!({"type": "object", "patternProperties": {"^x_": {"type": "string"}}, "additionalProperties": false});
    let declared = json!({"type": "object", "properties": {"x_code": {"type": "string", "maxLength": 3}},
                          "patternProperties": {"^x_": {"type": "string"}}, "additionalProperties": false});
    // `x_code` was already allowed (as any string) by the pattern: declaring
    // it with a bound is a tightening, not an addition to a closed model.
    assert_eq!(
        described(Mode::Full, &declared, &[(1, &old)]),
        [(1, "/properties/x_code/maxLength: added (3)".to_string())]
    );
    let names = json!({"type": "object", "propertyNames": {"maxLength": 8}});
    assert_eq!(
        described(Mode::Backward, &names, &[(1, &json!({"type": "object"}))]),
        [(1, "/propertyNames/maxLength: added (8)".to_string())]
    );
}

#[test]
fn what_cannot_be_proved_is_reported() {
    let nested_id = json!({"$defs": {"n": {"$id": "https://example.com/n", "type": "string"}},
                           "properties": {"a": {"$ref": "#/$defs/n"}}});
    let found = described(
        Mode::Backward,
        &nested_id,
        &[(1, &json!({"properties": {"a": {"type": "string"}}}))],
    );
    assert_eq!(found.len(), 1);
    assert!(found[0].1.starts_with("/properties/a: cannot prove compatible: `$ref` #/$defs/n is inside a schema with nested `$id`s"), "{found:?}");

    let conditional = json!({"if": {"required": ["a"]}, "then": {"required": ["b"]}});
    assert_eq!(
        described(Mode::Backward, &conditional, &[(1, &json!({}))]),
        [(
            1,
            "/if: cannot prove compatible: `if`/`then`/`else` added".to_string()
        )]
    );
    // The same construct on both sides is fine, however complex.
    assert_eq!(
        described(Mode::Full, &conditional, &[(1, &conditional)]),
        []
    );
}

#[test]
fn equal_schemas_in_other_spellings_are_compatible() {
    let old = json!({"$defs": {"n": {"type": "integer", "maximum": 100}}, "properties": {"n": {"$ref": "#/$defs/n"}}});
    let new = json!({"properties": {"n": {"type": "integer", "maximum": 1e2}}});
    assert_eq!(described(Mode::FullTransitive, &new, &[(1, &old)]), []);
}
