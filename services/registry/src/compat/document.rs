//! One side of a comparison: a schema document, its draft, and local `$ref`
//! resolution against it.
//!
//! References resolve against the document root: `#`, `#/json/pointer`
//! (percent-decoded, `~0`/`~1` escaped) and `#name` anchors (`$anchor`, or a
//! draft-07 `$id: "#name"`). A document with `$id`s below its root changes
//! the base of the references inside them, which this resolver does not
//! track, so it refuses to resolve anything there rather than guess.

use jsonschema::Draft;
use serde_json::{Map, Value};

use crate::schema;

/// Keywords whose value is instance data, never a schema.
const DATA_KEYWORDS: &[&str] = &["const", "enum", "default", "examples"];

#[derive(Clone, Copy)]
pub(super) struct Document<'a> {
    pub root: &'a Value,
    pub draft: Draft,
    nested_ids: bool,
}

impl<'a> Document<'a> {
    pub fn new(root: &'a Value) -> Self {
        // Stored documents passed the draft check at registration; fall back
        // to the default draft rather than fail on a document that did not.
        let draft = schema::draft_of(root).unwrap_or(Draft::Draft202012);
        let nested_ids = root
            .as_object()
            .is_some_and(|map| map.iter().any(|(key, child)| has_nested_id(key, child)));
        Self {
            root,
            draft,
            nested_ids,
        }
    }

    /// Whether array keywords use the 2020-12 spelling (`prefixItems` +
    /// `items`) rather than the older one (`items` array + `additionalItems`).
    pub fn uses_prefix_items(&self) -> bool {
        self.draft == Draft::Draft202012
    }

    /// The schema `reference` points at, or why it cannot be followed.
    pub fn resolve(&self, reference: &str) -> Result<&'a Value, String> {
        if self.nested_ids {
            return Err(format!(
                "`$ref` {reference} is inside a schema with nested `$id`s, which are not followed"
            ));
        }
        let Some(fragment) = reference.strip_prefix('#').or_else(|| {
            // The empty reference is the document itself.
            reference.is_empty().then_some("")
        }) else {
            return Err(format!("`$ref` {reference} is not a local reference"));
        };
        let decoded = percent_decode(fragment)
            .ok_or_else(|| format!("`$ref` {reference} is not a valid fragment"))?;
        let target = if decoded.is_empty() || decoded.starts_with('/') {
            self.root.pointer(&decoded)
        } else {
            find_anchor(self.root, &decoded)
        };
        target.ok_or_else(|| format!("`$ref` {reference} does not resolve"))
    }

    /// `node` as a document of its own: the root's `$defs` and
    /// `definitions` come along, so the references most schemas use still
    /// resolve when it is compiled alone.
    pub fn standalone(&self, node: &Map<String, Value>) -> Value {
        let mut copy = node.clone();
        if let Some(root) = self.root.as_object() {
            for keyword in ["$defs", "definitions"] {
                if let Some(definitions) = root.get(keyword) {
                    copy.entry(keyword).or_insert_with(|| definitions.clone());
                }
            }
        }
        Value::Object(copy)
    }
}

/// True when a schema below the root declares a new base with `$id`
/// (draft-07 `$id: "#name"` is only an anchor).
fn has_nested_id(key: &str, value: &Value) -> bool {
    if DATA_KEYWORDS.contains(&key) {
        return false;
    }
    match value {
        Value::Object(map) => map.iter().any(|(child_key, child)| {
            let declares_base =
                child_key == "$id" && child.as_str().is_some_and(|id| !id.starts_with('#'));
            declares_base || has_nested_id(child_key, child)
        }),
        Value::Array(items) => items.iter().any(|item| has_nested_id("", item)),
        _ => false,
    }
}

fn find_anchor<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) => {
            let anchored = map.get("$anchor").and_then(Value::as_str) == Some(name)
                || map
                    .get("$id")
                    .and_then(Value::as_str)
                    .and_then(|id| id.strip_prefix('#'))
                    == Some(name);
            if anchored {
                return Some(value);
            }
            map.iter()
                .filter(|(key, _)| !DATA_KEYWORDS.contains(&key.as_str()))
                .find_map(|(_, child)| find_anchor(child, name))
        }
        Value::Array(items) => items.iter().find_map(|item| find_anchor(item, name)),
        _ => None,
    }
}

/// `%XX` escapes decoded; `None` for a malformed escape or non-UTF-8 result.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text.get(index + 1..index + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn resolves_pointers_anchors_and_the_root() {
        let root = json!({
            "$defs": {"a b": {"type": "string"}, "x/y": {"type": "integer"}, "n": {"$anchor": "num", "type": "number"}},
            "definitions": {"old": {"$id": "#legacy", "type": "null"}}
        });
        let document = Document::new(&root);
        assert_eq!(document.resolve("#").ok(), Some(&root));
        assert_eq!(document.resolve("").ok(), Some(&root));
        assert_eq!(
            document.resolve("#/$defs/a%20b").ok(),
            Some(&json!({"type": "string"}))
        );
        assert_eq!(
            document.resolve("#/$defs/x~1y").ok(),
            Some(&json!({"type": "integer"}))
        );
        assert_eq!(
            document.resolve("#num").ok().map(|v| &v["type"]),
            Some(&json!("number"))
        );
        assert_eq!(
            document.resolve("#legacy").ok().map(|v| &v["type"]),
            Some(&json!("null"))
        );
        assert!(document.resolve("#/$defs/missing").is_err());
        assert!(document.resolve("other.json#/a").is_err());
    }

    #[test]
    fn refuses_to_guess_under_nested_ids() {
        let root = json!({"$defs": {"a": {"$id": "https://example.com/a", "type": "string"}}});
        assert!(Document::new(&root).resolve("#/$defs/a").is_err());
        let data =
            json!({"const": {"$id": "https://example.com/not-a-schema"}, "$defs": {"a": true}});
        assert!(Document::new(&data).resolve("#/$defs/a").is_ok());
    }

    #[test]
    fn standalone_nodes_keep_the_definitions() {
        let root = json!({"$defs": {"n": {"type": "integer"}}, "properties": {"a": {"$ref": "#/$defs/n"}}});
        let document = Document::new(&root);
        let node = root["properties"]["a"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            document.standalone(&node),
            json!({"$ref": "#/$defs/n", "$defs": {"n": {"type": "integer"}}})
        );
    }
}
