//! Payload paths: `event.payload.a.b`, `event.payload["a"]`, `has(…)` of
//! them, read straight from the JSON payload instead of from a CEL map built
//! for the whole payload.
//!
//! [`super::rewrite`] turns each such path, written with fields or string
//! literal indexes, into one variable whose name spells it ([`variable`]);
//! the [`VariableResolver`] of [`EventFields`] answers those names by walking the JSON and
//! converting only the value at the end (as [`super::value`] does, so it is
//! the value the map would hold), or, for `has(…)`, whether the last key is
//! there. A path that does not lead anywhere resolves to nothing, which the
//! interpreter reports as an undeclared reference; [`super::eval`] then
//! evaluates the path the usual way ([`tree`]) for the error it gives, so
//! messages stay as they were. No error is ever absorbed differently: every
//! failure of a path is an error in both forms.

use cel::common::ast::{CallExpr, Expr, IdedExpr, LiteralValue, SelectExpr, operators};
use cel::common::types::{CelBool, CelString};
use cel::common::value::CowVal;
use cel::context::VariableResolver;
use serde_json::Value as Json;

use super::value::{EventFields, json_value};

/// Variable names of payload values; `@` keeps them out of expressions.
const VALUE_PREFIX: &str = "@payload";
/// Variable names of `has(…)` tests of payload paths.
const HAS_PREFIX: &str = "@has.payload";

/// The variable for the payload path `segments`, or for `has(…)` of it when
/// `has` is set. Each segment follows a `.`, with `\` and `.` escaped by `\`.
pub fn variable(segments: &[String], has: bool) -> String {
    let mut name = String::from(if has { HAS_PREFIX } else { VALUE_PREFIX });
    for segment in segments {
        name.push('.');
        for character in segment.chars() {
            if matches!(character, '.' | '\\') {
                name.push('\\');
            }
            name.push(character);
        }
    }
    name
}

/// The path a [`variable`] name spells, and whether it is a `has(…)` test.
pub fn parse(name: &str) -> Option<(Vec<String>, bool)> {
    let (rest, has) = match name.strip_prefix(HAS_PREFIX) {
        Some(rest) => (rest, true),
        None => (name.strip_prefix(VALUE_PREFIX)?, false),
    };
    let mut segments = Vec::new();
    let mut characters = rest.chars();
    while let Some(character) = characters.next() {
        match character {
            '.' => segments.push(String::new()),
            '\\' => segments.last_mut()?.push(characters.next()?),
            other => segments.last_mut()?.push(other),
        }
    }
    Some((segments, has))
}

/// The value at the path `rest` (a [`variable`] name after its prefix),
/// unescaping a segment only where it has to.
fn walk<'j>(payload: &'j Json, mut rest: &str) -> Option<&'j Json> {
    let mut value = payload;
    while let Some(after_dot) = rest.strip_prefix('.') {
        let object = value.as_object()?;
        // Most keys have neither `.` nor `\`: one scan finds the segment's end.
        let stop = after_dot
            .bytes()
            .position(|byte| matches!(byte, b'.' | b'\\'));
        let end = match stop {
            Some(stop) if after_dot.as_bytes()[stop] == b'\\' => {
                let end = segment_end(after_dot);
                value = object.get(&unescape(&after_dot[..end]))?;
                end
            }
            Some(stop) => {
                value = object.get(&after_dot[..stop])?;
                stop
            }
            None => {
                value = object.get(after_dot)?;
                after_dot.len()
            }
        };
        rest = &after_dot[end..];
    }
    Some(value)
}

/// Where the segment at the start of `text` ends: the first unescaped `.`.
fn segment_end(text: &str) -> usize {
    let mut escaped = false;
    for (index, character) in text.char_indices() {
        match character {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '.' => return index,
            _ => {}
        }
    }
    text.len()
}

fn unescape(raw: &str) -> String {
    let mut text = String::with_capacity(raw.len());
    let mut characters = raw.chars();
    while let Some(character) = characters.next() {
        match character {
            '\\' => text.extend(characters.next()),
            other => text.push(other),
        }
    }
    text
}

/// Answers the [`variable`] names against the event's payload.
impl VariableResolver for EventFields<'_> {
    fn resolve<'b>(&'b self, name: &str) -> Option<CowVal<'b, 'b>> {
        let payload = self.payload;
        if let Some(rest) = name.strip_prefix(VALUE_PREFIX) {
            return walk(payload, rest).map(|value| CowVal::Owned(json_value(value)));
        }
        let rest = name.strip_prefix(HAS_PREFIX)?;
        // `has(p.k)`: `p` must lead to an object, else it is an error.
        let split = last_segment_start(rest)?;
        let parent = walk(payload, &rest[..split])?.as_object()?;
        let raw = &rest[split + 1..];
        let present = if raw.contains('\\') {
            parent.contains_key(&unescape(raw))
        } else {
            parent.contains_key(raw)
        };
        Some(CowVal::Borrowed(if present {
            &CelBool::TRUE
        } else {
            &CelBool::FALSE
        }))
    }
}

/// Where the last segment's `.` is in `rest` (a path after its prefix).
fn last_segment_start(rest: &str) -> Option<usize> {
    let mut start = None;
    let mut offset = 0;
    while offset < rest.len() {
        start = Some(offset);
        offset += 1 + segment_end(&rest[offset + 1..]);
    }
    start
}

/// The path as the interpreter would run it without this module:
/// `event["payload"]["a"]…`, the last step a presence test when `has`.
pub fn tree(segments: &[String], has: bool) -> IdedExpr {
    let mut node = node(Expr::Ident("event".to_string()));
    let steps = ["payload".to_string()]
        .into_iter()
        .chain(segments.iter().cloned());
    let count = segments.len() + 1;
    for (position, segment) in steps.enumerate() {
        node = if has && position + 1 == count {
            self::node(Expr::Select(SelectExpr {
                operand: Box::new(node),
                field: segment,
                test: true,
            }))
        } else {
            self::node(Expr::Call(CallExpr {
                func_name: operators::INDEX.to_string(),
                target: None,
                args: vec![
                    node,
                    self::node(Expr::Literal(LiteralValue::String(CelString::from(
                        segment,
                    )))),
                ],
            }))
        };
    }
    node
}

fn node(expr: Expr) -> IdedExpr {
    IdedExpr { id: 0, expr }
}
