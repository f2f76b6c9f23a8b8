//! Array keywords: item schemas by position, `min/maxItems`, `uniqueItems`,
//! and the ones compared only for sameness (`contains`, `unevaluatedItems`).
//!
//! Each side's items are a list of positional schemas and one schema for the
//! rest: `prefixItems` + `items` in 2020-12, an `items` array +
//! `additionalItems` before, or a single `items` for every position. Position
//! by position the writer's schema must be read by the reader's; positions
//! past the writer's `maxItems` never occur and are skipped.

use serde_json::{Map, Value};

use super::bounds::{count_max, count_min};
use super::document::Document;
use super::walk::{Comparer, TRUE_SCHEMA, child, is_false};

struct Items<'a> {
    prefix: &'a [Value],
    rest: &'a Value,
    prefix_keyword: &'static str,
    rest_keyword: &'static str,
}

impl<'a> Items<'a> {
    fn of(schema: &'a Map<String, Value>, document: &Document<'_>) -> Self {
        if document.uses_prefix_items() {
            return Self {
                prefix: schema
                    .get("prefixItems")
                    .and_then(Value::as_array)
                    .map_or(&[], Vec::as_slice),
                rest: schema.get("items").unwrap_or(&TRUE_SCHEMA),
                prefix_keyword: "prefixItems",
                rest_keyword: "items",
            };
        }
        match schema.get("items") {
            Some(Value::Array(prefix)) => Self {
                prefix,
                rest: schema.get("additionalItems").unwrap_or(&TRUE_SCHEMA),
                prefix_keyword: "items",
                rest_keyword: "additionalItems",
            },
            other => Self {
                prefix: &[],
                rest: other.unwrap_or(&TRUE_SCHEMA),
                prefix_keyword: "items",
                rest_keyword: "items",
            },
        }
    }
}

pub(super) fn compare<'a>(
    comparer: &mut Comparer<'a>,
    writer: &'a Map<String, Value>,
    reader: &'a Map<String, Value>,
    path: &str,
) {
    let written = Items::of(writer, &comparer.writer);
    let read = Items::of(reader, &comparer.reader);
    let longest = writer
        .get("maxItems")
        .and_then(Value::as_u64)
        .and_then(|max| usize::try_from(max).ok())
        .unwrap_or(usize::MAX);

    let positions = written.prefix.len().max(read.prefix.len()).min(longest);
    for index in 0..positions {
        let writer_schema = written.prefix.get(index).unwrap_or(written.rest);
        if index >= written.prefix.len() && is_false(written.rest) {
            break;
        }
        let (reader_schema, at) = match read.prefix.get(index) {
            Some(schema) => (schema, child(&child(path, read.prefix_keyword), index)),
            None => (read.rest, child(path, read.rest_keyword)),
        };
        comparer.compare(writer_schema, reader_schema, &at);
    }
    let past_both = written.prefix.len().max(read.prefix.len());
    if past_both < longest && !is_false(written.rest) {
        comparer.compare(written.rest, read.rest, &child(path, read.rest_keyword));
    }

    count_min(comparer, writer, reader, "minItems", path);
    count_max(comparer, writer, reader, "maxItems", path);
    if reader.get("uniqueItems") == Some(&Value::Bool(true))
        && writer.get("uniqueItems") != Some(&Value::Bool(true))
    {
        let reason = comparer.pick("added", "removed");
        comparer.report(&child(path, "uniqueItems"), reason);
    }
    for keyword in ["contains", "minContains", "maxContains", "unevaluatedItems"] {
        comparer.require_same(writer, reader, keyword, path);
    }
}
