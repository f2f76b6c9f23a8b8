//! Structural sameness of two schemas, for the keywords the checker only
//! accepts unchanged: numbers compare by value and `$ref`s are followed in
//! each document (a pair met again is assumed equal, so recursion ends).
//! Positions matter: `$ref` is only followed where it is a keyword, not
//! inside `enum`/`const` data or as a property name.

use std::collections::HashSet;

use serde_json::{Number, Value};

use super::document::Document;
use super::walk::address;

/// Keywords holding instance data rather than schemas.
const DATA_KEYWORDS: &[&str] = &["const", "enum", "default", "examples"];
/// Keywords mapping names (not keywords) to schemas.
const NAMED_KEYWORDS: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
    "dependencies",
];

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Position {
    Schema,
    Names,
    Data,
}

pub(super) fn same_values(
    writer_document: Document<'_>,
    writer: &Value,
    reader_document: Document<'_>,
    reader: &Value,
    seen: &mut HashSet<(usize, usize)>,
    position: Position,
) -> bool {
    let same_child =
        |key: &str, left: &Value, right: &Value, seen: &mut HashSet<(usize, usize)>| {
            let inner = match position {
                Position::Data => Position::Data,
                Position::Names => Position::Schema,
                Position::Schema if DATA_KEYWORDS.contains(&key) => Position::Data,
                Position::Schema if NAMED_KEYWORDS.contains(&key) => Position::Names,
                Position::Schema => Position::Schema,
            };
            same_values(writer_document, left, reader_document, right, seen, inner)
        };
    match (writer, reader) {
        (Value::Number(left), Value::Number(right)) => numbers_equal(left, right),
        (Value::Array(left), Value::Array(right)) => {
            left.len() == right.len()
                && left.iter().zip(right).all(|(l, r)| {
                    same_values(writer_document, l, reader_document, r, seen, position)
                })
        }
        (Value::Object(left), Value::Object(right)) => {
            if left.len() != right.len() {
                return false;
            }
            let mut keys_to_compare: Vec<&String> = left.keys().collect();
            if position == Position::Schema
                && let (Some(Value::String(left_ref)), Some(Value::String(right_ref))) =
                    (left.get("$ref"), right.get("$ref"))
            {
                match (
                    writer_document.resolve(left_ref),
                    reader_document.resolve(right_ref),
                ) {
                    (Ok(left_target), Ok(right_target)) => {
                        let pair = (address(left_target), address(right_target));
                        // A pair met again is assumed equal: recursion ends.
                        if seen.insert(pair)
                            && !same_values(
                                writer_document,
                                left_target,
                                reader_document,
                                right_target,
                                seen,
                                Position::Schema,
                            )
                        {
                            return false;
                        }
                    }
                    _ if left_ref != right_ref => return false,
                    _ => {}
                }
                keys_to_compare.retain(|key| key.as_str() != "$ref");
            }
            keys_to_compare.into_iter().all(|key| {
                right
                    .get(key)
                    .is_some_and(|other| same_child(key, &left[key.as_str()], other, seen))
            })
        }
        _ => writer == reader,
    }
}

fn numbers_equal(left: &Number, right: &Number) -> bool {
    if let (Some(l), Some(r)) = (left.as_i64(), right.as_i64()) {
        return l == r;
    }
    if let (Some(l), Some(r)) = (left.as_u64(), right.as_u64()) {
        return l == r;
    }
    left.as_f64() == right.as_f64()
}
