//! The recursive comparison of one writer node with one reader node.
//!
//! [`Comparer::compare`] follows `$ref`s (the writer's by replacing the node
//! with its target, which can only make the writer accept more; the reader's
//! by checking the target *and* the siblings), stops on pairs already being
//! compared (so recursive schemas end: the pair is assumed to hold, the
//! usual co-inductive reading), and hands each keyword family to its module.
//! A writer with `enum`/`const` is finite, so its values are validated
//! against the reader instead (`values.rs`): that check is exact.
//!
//! Work is bounded: a budget of node pairs (shared with the trial
//! comparisons `anyOf` makes) and a depth limit, both reported as "cannot
//! prove compatible" when exhausted.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::fmt::Display;
use std::rc::Rc;
use std::sync::LazyLock;

use jsonschema::{Draft, Validator};
use serde_json::{Map, Value, json};

use super::check::Finding;
use super::document::Document;
use super::same::{Position, same_values};
use super::types::Types;
use super::values::finite_values;
use super::{applicator, array, bounds, object};
use crate::schema;

pub(super) static TRUE_SCHEMA: Value = Value::Bool(true);
static EMPTY: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);

/// Deepest recursion through a pair of schemas (documents nest at most 64
/// levels, but `$ref`s can lead further).
const MAX_DEPTH: usize = 192;
/// Most `$ref` hops from one node before it counts as a loop.
const MAX_REF_HOPS: usize = 32;
/// Most node pairs compared for one check, trials included.
const BUDGET: usize = 200_000;

/// Keywords that never constrain a value.
const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "$anchor",
    "$dynamicAnchor",
    "$recursiveAnchor",
    "$comment",
    "$defs",
    "definitions",
    "$vocabulary",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "contentEncoding",
    "contentMediaType",
    "contentSchema",
];

struct Shared {
    budget: Cell<usize>,
    patterns: RefCell<HashMap<String, Option<Validator>>>,
}

pub(super) struct Comparer<'a> {
    pub writer: Document<'a>,
    pub reader: Document<'a>,
    pub reader_is_new: bool,
    pub findings: Vec<Finding>,
    in_progress: HashSet<(usize, usize)>,
    done: HashSet<(usize, usize)>,
    depth: usize,
    shared: Rc<Shared>,
}

impl<'a> Comparer<'a> {
    pub fn new(writer: Document<'a>, reader: Document<'a>, reader_is_new: bool) -> Self {
        Self {
            writer,
            reader,
            reader_is_new,
            findings: Vec::new(),
            in_progress: HashSet::new(),
            done: HashSet::new(),
            depth: 0,
            shared: Rc::new(Shared {
                budget: Cell::new(BUDGET),
                patterns: RefCell::default(),
            }),
        }
    }

    pub fn report(&mut self, path: &str, reason: impl Into<String>) {
        self.findings.push(Finding {
            path: path.to_string(),
            reason: reason.into(),
        });
    }

    pub fn cannot_prove(&mut self, path: &str, what: impl Display) {
        self.report(path, format!("cannot prove compatible: {what}"));
    }

    /// A finding's reason: the reader is always the stricter side, so the
    /// wording depends only on whether the reader is the new schema.
    pub fn pick(
        &self,
        new_is_stricter: impl Into<String>,
        old_is_stricter: impl Into<String>,
    ) -> String {
        if self.reader_is_new {
            new_is_stricter.into()
        } else {
            old_is_stricter.into()
        }
    }

    /// For reader keywords the checker does not analyse: they pass only when
    /// the writer has the same one. A writer's alone is ignored, which can
    /// only make the writer accept more.
    pub fn require_same(
        &mut self,
        writer: &Map<String, Value>,
        reader: &Map<String, Value>,
        keyword: &str,
        path: &str,
    ) {
        let Some(required) = reader.get(keyword) else {
            return;
        };
        let change = match writer.get(keyword) {
            Some(present) if self.same(present, required) => return,
            Some(_) => "changed",
            None if self.reader_is_new => "added",
            None => "removed",
        };
        self.cannot_prove(&child(path, keyword), format!("`{keyword}` {change}"));
    }

    /// Structural equality, numbers compared by value and `$ref`s followed.
    pub fn same(&self, writer: &Value, reader: &Value) -> bool {
        let mut seen = HashSet::new();
        same_values(
            self.writer,
            writer,
            self.reader,
            reader,
            &mut seen,
            Position::Schema,
        )
    }

    /// Whether `writer` ⊆ `reader` can be proved, recording nothing.
    pub fn trial(&self, writer: &'a Value, reader: &'a Value) -> bool {
        let mut trial = Comparer {
            writer: self.writer,
            reader: self.reader,
            reader_is_new: self.reader_is_new,
            findings: Vec::new(),
            in_progress: self.in_progress.clone(),
            done: HashSet::new(),
            depth: self.depth,
            shared: Rc::clone(&self.shared),
        };
        trial.compare(writer, reader, "");
        trial.findings.is_empty()
    }

    /// Whether the ECMA-262 `pattern` matches `name` as validation would;
    /// `None` when it does not compile.
    pub fn matches(&self, pattern: &str, name: &str) -> Option<bool> {
        let mut patterns = self.shared.patterns.borrow_mut();
        let validator = patterns.entry(pattern.to_string()).or_insert_with(|| {
            schema::build(&json!({"pattern": pattern}), Draft::Draft202012).ok()
        });
        validator
            .as_ref()
            .map(|validator| validator.is_valid(&Value::String(name.to_string())))
    }

    /// Records why some payload valid against `writer` may be invalid
    /// against `reader`.
    pub fn compare(&mut self, writer: &'a Value, reader: &'a Value, path: &str) {
        let Some(writer) = self.follow_writer(writer, path) else {
            return;
        };
        if writer == &Value::Bool(false) || accepts_everything(reader) {
            return;
        }
        let pair = (address(writer), address(reader));
        if self.done.contains(&pair) || self.in_progress.contains(&pair) {
            return;
        }
        let budget = self.shared.budget.get();
        if budget == 0 {
            self.cannot_prove(path, "the schemas are too large to compare");
            return;
        }
        self.shared.budget.set(budget - 1);
        if self.depth >= MAX_DEPTH {
            self.cannot_prove(path, "the schemas nest too deeply to compare");
            return;
        }
        self.in_progress.insert(pair);
        self.depth += 1;
        self.compare_nodes(writer, reader, path);
        self.depth -= 1;
        self.in_progress.remove(&pair);
        self.done.insert(pair);
    }

    fn follow_writer(&mut self, mut node: &'a Value, path: &str) -> Option<&'a Value> {
        for _ in 0..MAX_REF_HOPS {
            let Some(reference) = node.get("$ref") else {
                return Some(node);
            };
            let target = match reference.as_str() {
                Some(reference) => self.writer.resolve(reference),
                None => Err("`$ref` is not a string".to_string()),
            };
            match target {
                Ok(target) => node = target,
                Err(why) => {
                    self.cannot_prove(path, why);
                    return None;
                }
            }
        }
        self.cannot_prove(path, "`$ref`s form a loop");
        None
    }

    fn compare_nodes(&mut self, writer: &'a Value, reader: &'a Value, path: &str) {
        let reader_map = match reader {
            Value::Object(map) => map,
            Value::Bool(false) => {
                let reason = self.pick(
                    "is now false: rejects every value the old schema allowed here",
                    "was false: the old schema rejected every value the new one allows here",
                );
                self.report(path, reason);
                return;
            }
            _ => {
                self.cannot_prove(path, "not a schema");
                return;
            }
        };
        let writer_map: &'a Map<String, Value> = match writer {
            Value::Object(map) => map,
            _ => &EMPTY,
        };
        if let Some(values) = finite_values(writer_map) {
            self.check_values(&values, reader_map, path);
            return;
        }
        if let Some(reference) = reader_map.get("$ref") {
            let target = match reference.as_str() {
                Some(reference) => self.reader.resolve(reference),
                None => Err("`$ref` is not a string".to_string()),
            };
            match target {
                Ok(target) => self.compare(writer, target, path),
                Err(why) => self.cannot_prove(path, why),
            }
        }
        for keyword in ["$dynamicRef", "$recursiveRef"] {
            self.require_same(writer_map, reader_map, keyword, path);
        }
        let live = self.compare_types(writer_map, reader_map, path);
        self.compare_enum(reader_map, path);
        if live.has_numbers() {
            bounds::numbers(self, writer_map, reader_map, live.integers_only(), path);
        }
        if live.intersects(Types::STRING) {
            bounds::strings(self, writer_map, reader_map, path);
        }
        if live.intersects(Types::OBJECT) {
            object::compare(self, writer_map, reader_map, path);
        }
        if live.intersects(Types::ARRAY) {
            array::compare(self, writer_map, reader_map, path);
        }
        applicator::compare(self, writer, writer_map, reader_map, path);
    }

    /// Reports types the reader no longer takes; returns the writer's types
    /// the reader does take, which the other rules then look at.
    fn compare_types(
        &mut self,
        writer: &Map<String, Value>,
        reader: &Map<String, Value>,
        path: &str,
    ) -> Types {
        let writer_types = Types::declared(writer).unwrap_or(Types::ALL);
        let Some(reader_types) = Types::declared(reader) else {
            return writer_types;
        };
        if !writer_types.all_accepted_by(reader_types) {
            let reason = self.pick(
                format!("narrowed from {writer_types} to {reader_types}"),
                format!("widened from {reader_types} to {writer_types}"),
            );
            self.report(&child(path, "type"), reason);
        }
        writer_types.accepted_by(reader_types)
    }

    /// A reader listing its values, against a writer that does not.
    fn compare_enum(&mut self, reader: &Map<String, Value>, path: &str) {
        for keyword in ["enum", "const"] {
            let Some(allowed) = reader.get(keyword) else {
                continue;
            };
            let listed = match allowed {
                Value::Array(values) if keyword == "enum" => describe_list(values),
                other => describe(other),
            };
            let reason = self.pick(
                format!("added: only {listed} accepted now"),
                format!("removed: the old schema accepted only {listed}"),
            );
            self.report(&child(path, keyword), reason);
        }
    }
}

/// `true`, `{}`, or only annotations.
pub(super) fn accepts_everything(schema: &Value) -> bool {
    match schema {
        Value::Bool(accepts) => *accepts,
        Value::Object(map) => map.keys().all(|key| ANNOTATIONS.contains(&key.as_str())),
        _ => false,
    }
}

pub(super) fn is_false(schema: &Value) -> bool {
    schema == &Value::Bool(false)
}

/// `path` extended by one JSON pointer token, escaped.
pub(super) fn child(path: &str, token: impl Display) -> String {
    let token = token.to_string().replace('~', "~0").replace('/', "~1");
    format!("{path}/{token}")
}

/// A value for a message: compact JSON, cut at 60 characters.
pub(super) fn describe(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn describe_list(values: &[Value]) -> String {
    let shown: Vec<String> = values.iter().take(5).map(describe).collect();
    let more = if values.len() > 5 { ", …" } else { "" };
    format!("[{}{more}]", shown.join(", "))
}

pub(super) fn address(value: &Value) -> usize {
    std::ptr::from_ref(value) as usize
}
