//! A mapping's body, evaluated without building the map and list literals it
//! is written as.
//!
//! Most mappings are a literal, `{"email": event.payload.email, …}`. Run as
//! is, the interpreter builds a CEL map for it (a hash table, a key and a
//! boxed copy per entry) that [`super::json`] then only reads once, sorted.
//! Here a map literal whose keys are distinct string literals, and a list
//! literal without optional elements, are evaluated entry by entry into a
//! [`Shape`], in source order as the interpreter does (so the first error is
//! the same), and written from it with the values borrowed. Anything else,
//! the keys, the values, a literal of another kind, is evaluated as usual.
//! The text is the one [`AsJson`] writes for the built value: object keys sorted, the same value encodings, the same errors.

use cel::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue};
use cel::common::value::CowVal;
use cel::{Context, ExecutionError, Value as CelValue};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::json::AsJson;

/// An evaluated mapping: literals kept as their entries, the rest as values.
pub enum Shape<'e, 'v> {
    Value(CowVal<'e, 'v>),
    /// Entries sorted by key, which are distinct.
    Map(Vec<(&'e str, Shape<'e, 'v>)>),
    List(Vec<Shape<'e, 'v>>),
}

/// Evaluates `expr`; see the module doc.
pub fn evaluate<'e, 'v>(
    expr: &'e IdedExpr,
    context: &'e Context<'_, 'v>,
) -> Result<Shape<'e, 'v>, ExecutionError> {
    match &expr.expr {
        Expr::Map(map) => {
            let Some(keys) = literal_keys(&map.entries) else {
                return CelValue::resolve_val(expr, context).map(Shape::Value);
            };
            let mut entries = Vec::with_capacity(keys.len());
            for (key, value) in keys {
                entries.push((key, evaluate(value, context)?));
            }
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            Ok(Shape::Map(entries))
        }
        Expr::List(list) if list.optional_indices.is_empty() => list
            .elements
            .iter()
            .map(|element| evaluate(element, context))
            .collect::<Result<Vec<_>, _>>()
            .map(Shape::List),
        _ => CelValue::resolve_val(expr, context).map(Shape::Value),
    }
}

/// The keys and values of a map literal whose entries are all plain
/// (`"key": value`, not `?"key": value`) with distinct string literal keys.
fn literal_keys(entries: &[cel::common::ast::IdedEntryExpr]) -> Option<Vec<(&str, &IdedExpr)>> {
    let mut keys: Vec<(&str, &IdedExpr)> = Vec::with_capacity(entries.len());
    for entry in entries {
        let EntryExpr::MapEntry(entry) = &entry.expr else {
            return None;
        };
        let Expr::Literal(LiteralValue::String(key)) = &entry.key.expr else {
            return None;
        };
        if entry.optional || keys.iter().any(|(seen, _)| *seen == key.inner()) {
            return None;
        }
        keys.push((key.inner(), &entry.value));
    }
    Some(keys)
}

impl Serialize for Shape<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Value(value) => AsJson(value.as_ref()).serialize(serializer),
            Self::Map(entries) => {
                let mut object = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    object.serialize_entry(key, value)?;
                }
                object.end()
            }
            Self::List(items) => {
                let mut sequence = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    sequence.serialize_element(item)?;
                }
                sequence.end()
            }
        }
    }
}
