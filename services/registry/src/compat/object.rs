//! Object keywords: `required`, `properties`, `patternProperties`,
//! `additionalProperties` / `unevaluatedProperties` (the content model),
//! `propertyNames`, `min/maxProperties` and the dependency keywords.
//!
//! For each property name either side declares, the writer's schema for that
//! name (declared, else a matching pattern, else its additional-properties
//! schema, `true` when open) must be read by every reader schema that applies
//! to it. Names neither side declares are governed by the two
//! additional-properties schemas, compared last. A reader's
//! `unevaluatedProperties` is taken as if it were `additionalProperties`,
//! which ignores what its applicators evaluate and so can only make it
//! stricter; a writer's counts only when it has no applicators.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use super::bounds::{count_max, count_min};
use super::walk::{Comparer, TRUE_SCHEMA, accepts_everything, child, is_false};

static STRING_SCHEMA: LazyLock<Value> = LazyLock::new(|| json!({"type": "string"}));

/// Applicators that may evaluate properties behind `unevaluatedProperties`.
const APPLICATORS: &[&str] = &[
    "$ref",
    "$dynamicRef",
    "$recursiveRef",
    "allOf",
    "anyOf",
    "oneOf",
    "if",
    "then",
    "else",
    "dependentSchemas",
    "dependencies",
];

/// One side's content model.
struct Model<'a> {
    properties: Option<&'a Map<String, Value>>,
    patterns: Vec<(&'a str, &'a Value)>,
    /// What names matched by nothing else must satisfy.
    rest: &'a Value,
    rest_keyword: &'static str,
    required: BTreeSet<&'a str>,
}

impl<'a> Model<'a> {
    fn of(schema: &'a Map<String, Value>, is_reader: bool) -> Self {
        let unevaluated_counts = is_reader
            || !APPLICATORS
                .iter()
                .any(|keyword| schema.contains_key(*keyword));
        let (rest, rest_keyword) = match (
            schema.get("additionalProperties"),
            schema.get("unevaluatedProperties"),
        ) {
            (Some(additional), _) => (additional, "additionalProperties"),
            (None, Some(unevaluated)) if unevaluated_counts => {
                (unevaluated, "unevaluatedProperties")
            }
            _ => (&TRUE_SCHEMA, "additionalProperties"),
        };
        Self {
            properties: schema.get("properties").and_then(Value::as_object),
            patterns: schema
                .get("patternProperties")
                .and_then(Value::as_object)
                .map(|patterns| patterns.iter().map(|(p, s)| (p.as_str(), s)).collect())
                .unwrap_or_default(),
            rest,
            rest_keyword,
            required: schema
                .get("required")
                .and_then(Value::as_array)
                .map(|names| names.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default(),
        }
    }

    fn declared(&self, name: &str) -> Option<&'a Value> {
        self.properties.and_then(|properties| properties.get(name))
    }
}

pub(super) fn compare<'a>(
    comparer: &mut Comparer<'a>,
    writer: &'a Map<String, Value>,
    reader: &'a Map<String, Value>,
    path: &str,
) {
    let written = Model::of(writer, false);
    let read = Model::of(reader, true);

    for name in read.required.difference(&written.required) {
        let reason = comparer.pick("became required", "is no longer required");
        comparer.report(&child(&child(path, "properties"), name), reason);
    }

    let names: BTreeSet<&str> = [written.properties, read.properties]
        .into_iter()
        .flatten()
        .flat_map(|properties| properties.keys().map(String::as_str))
        .collect();
    for name in names {
        compare_property(comparer, &written, &read, name, path);
    }
    compare_patterns(comparer, &written, &read, path);

    if !is_false(written.rest) {
        let at = child(path, read.rest_keyword);
        if is_false(read.rest) {
            let reason = comparer.pick("closed", "opened");
            comparer.report(&at, reason);
        } else {
            comparer.compare(written.rest, read.rest, &at);
        }
    }

    count_min(comparer, writer, reader, "minProperties", path);
    count_max(comparer, writer, reader, "maxProperties", path);
    if let Some(names) = reader.get("propertyNames") {
        let written_names = writer.get("propertyNames").unwrap_or(&STRING_SCHEMA);
        comparer.compare(written_names, names, &child(path, "propertyNames"));
    }
    for keyword in ["dependentRequired", "dependentSchemas", "dependencies"] {
        comparer.require_same(writer, reader, keyword, path);
    }
}

fn compare_property<'a>(
    comparer: &mut Comparer<'a>,
    written: &Model<'a>,
    read: &Model<'a>,
    name: &str,
    path: &str,
) {
    let at = child(&child(path, "properties"), name);
    let declared_by_writer = written.declared(name);
    let writer_schema = match declared_by_writer {
        Some(schema) => schema,
        None => match first_match(comparer, &written.patterns, name, &at) {
            Ok(Some(schema)) => schema,
            Ok(None) => written.rest,
            Err(()) => return,
        },
    };
    if is_false(writer_schema) {
        return;
    }
    let mut reader_schemas: Vec<&'a Value> = read.declared(name).into_iter().collect();
    for (pattern, schema) in &read.patterns {
        match comparer.matches(pattern, name) {
            Some(true) => reader_schemas.push(schema),
            Some(false) => {}
            None => {
                comparer.cannot_prove(&at, format!("pattern {pattern} does not compile"));
                return;
            }
        }
    }
    let declared_by_reader = !reader_schemas.is_empty();
    if !declared_by_reader {
        reader_schemas.push(read.rest);
    }

    for reader_schema in reader_schemas {
        if !declared_by_reader && is_false(reader_schema) {
            let reason = comparer.pick(
                "removed from a closed content model",
                "added, but the old content model is closed",
            );
            comparer.report(&at, reason);
        } else if declared_by_writer.is_none()
            && accepts_everything(writer_schema)
            && !accepts_everything(reader_schema)
        {
            let reason = comparer.pick(
                "added to an open content model: old events may carry any value under this name",
                "removed from an open content model: new events may carry any value under this name",
            );
            comparer.report(&at, reason);
        } else {
            comparer.compare(writer_schema, reader_schema, &at);
        }
    }
}

/// The schema of the first pattern matching `name`; `Err` (reported) when a
/// pattern does not compile.
fn first_match<'a>(
    comparer: &mut Comparer<'a>,
    patterns: &[(&str, &'a Value)],
    name: &str,
    at: &str,
) -> Result<Option<&'a Value>, ()> {
    for (pattern, schema) in patterns {
        match comparer.matches(pattern, name) {
            Some(true) => return Ok(Some(schema)),
            Some(false) => {}
            None => {
                comparer.cannot_prove(at, format!("pattern {pattern} does not compile"));
                return Err(());
            }
        }
    }
    Ok(None)
}

/// Names matched by patterns but declared by neither side. Equal patterns
/// compare their schemas; a pattern only one side has is compared with the
/// other side's rest when that side has no patterns at all, since overlaps
/// between different patterns are not analysed.
fn compare_patterns<'a>(
    comparer: &mut Comparer<'a>,
    written: &Model<'a>,
    read: &Model<'a>,
    path: &str,
) {
    let patterns_at = child(path, "patternProperties");
    for (pattern, writer_schema) in &written.patterns {
        let at = child(&patterns_at, pattern);
        if let Some((_, reader_schema)) = read.patterns.iter().find(|(p, _)| p == pattern) {
            comparer.compare(writer_schema, reader_schema, &at);
        } else if read.patterns.is_empty() {
            if is_false(read.rest) && !is_false(writer_schema) {
                let reason = comparer.pick(
                    "removed from a closed content model",
                    "added, but the old content model is closed",
                );
                comparer.report(&at, reason);
            } else {
                comparer.compare(writer_schema, read.rest, &at);
            }
        } else if !is_false(writer_schema) {
            comparer.cannot_prove(&at, "`patternProperties` changed");
        }
    }
    for (pattern, reader_schema) in &read.patterns {
        if written.patterns.iter().any(|(p, _)| p == pattern) {
            continue;
        }
        let at = child(&patterns_at, pattern);
        if !written.patterns.is_empty() {
            comparer.cannot_prove(&at, "`patternProperties` changed");
        } else if accepts_everything(written.rest) && !accepts_everything(reader_schema) {
            let reason = comparer.pick(
                "added to an open content model: old events may carry any value under matching names",
                "removed from an open content model: new events may carry any value under matching names",
            );
            comparer.report(&at, reason);
        } else {
            comparer.compare(written.rest, reader_schema, &at);
        }
    }
}
