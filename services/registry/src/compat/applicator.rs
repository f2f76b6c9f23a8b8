//! Applicators on the reader side: `allOf` (every branch must read the
//! writer), `anyOf` (some branch must read each writer branch, proved by
//! trial comparisons that record nothing), and the ones only proved by
//! sameness: `oneOf` (a value may match several branches, so a branch that
//! reads it is not enough), `not`, and `if`/`then`/`else`.
//!
//! The writer's own applicators are ignored, except as alternatives in
//! `anyOf`: ignoring a writer constraint only makes the writer accept more.

use serde_json::{Map, Value};

use super::walk::{Comparer, child};

pub(super) fn compare<'a>(
    comparer: &mut Comparer<'a>,
    writer: &'a Value,
    writer_map: &'a Map<String, Value>,
    reader: &'a Map<String, Value>,
    path: &str,
) {
    if let Some(Value::Array(branches)) = reader.get("allOf") {
        let same = writer_map
            .get("allOf")
            .is_some_and(|written| comparer.same(written, &reader["allOf"]));
        if !same {
            for (index, branch) in branches.iter().enumerate() {
                comparer.compare(writer, branch, &child(&child(path, "allOf"), index));
            }
        }
    }

    if let Some(any_of @ Value::Array(branches)) = reader.get("anyOf") {
        compare_any_of(comparer, writer, writer_map, any_of, branches, path);
    }

    for keyword in ["oneOf", "not"] {
        comparer.require_same(writer_map, reader, keyword, path);
    }
    let conditional = ["if", "then", "else"];
    if conditional
        .iter()
        .any(|keyword| reader.contains_key(*keyword))
    {
        let same = conditional.iter().all(|keyword| {
            match (writer_map.get(*keyword), reader.get(*keyword)) {
                (Some(written), Some(read)) => comparer.same(written, read),
                (None, None) => true,
                _ => false,
            }
        });
        if !same {
            let change = if !conditional
                .iter()
                .any(|keyword| writer_map.contains_key(*keyword))
            {
                if comparer.reader_is_new {
                    "added"
                } else {
                    "removed"
                }
            } else {
                "changed"
            };
            comparer.cannot_prove(&child(path, "if"), format!("`if`/`then`/`else` {change}"));
        }
    }
}

fn compare_any_of<'a>(
    comparer: &mut Comparer<'a>,
    writer: &'a Value,
    writer_map: &'a Map<String, Value>,
    any_of: &'a Value,
    branches: &'a [Value],
    path: &str,
) {
    let at = child(path, "anyOf");
    let written = writer_map.get("anyOf").or_else(|| writer_map.get("oneOf"));
    if written.is_some_and(|written| comparer.same(written, any_of)) {
        return;
    }
    let alternatives: Vec<&'a Value> = match written {
        Some(Value::Array(alternatives)) => alternatives.iter().collect(),
        _ => vec![writer],
    };
    let (reader_side, writer_side) = if comparer.reader_is_new {
        ("new", "old")
    } else {
        ("old", "new")
    };
    for (index, alternative) in alternatives.iter().enumerate() {
        if !branches
            .iter()
            .any(|branch| comparer.trial(alternative, branch))
        {
            let what = if written.is_some() {
                format!(
                    "no branch of the {reader_side} `anyOf` is known to accept branch {index} of the {writer_side} schema"
                )
            } else {
                let change = if comparer.reader_is_new {
                    "added"
                } else {
                    "removed"
                };
                format!("`anyOf` {change}: no branch is known to accept every {writer_side} value")
            };
            comparer.cannot_prove(&at, what);
            return;
        }
    }
}
