//! Checking a JSON Schema document before it is stored, and compiling it.
//!
//! [`check`] runs, cheapest first: size, JSON syntax, "is an object",
//! nesting depth, the draft named by `$schema`, the draft's meta-schema, the
//! absence of remote `$ref`s, and finally compilation. A document that passes
//! is stored as is; [`compile`] rebuilds the same validator from it later.
//!
//! Compilation never touches the network or the file system: besides refusing
//! non-local `$ref`s up front, every compile installs [`NoRetrieval`], because
//! cargo feature unification could turn on jsonschema's HTTP resolver if any
//! crate in the build enables the default features.

use jsonschema::{Draft, Retrieve, Uri, Validator};
use serde_json::Value;

/// Largest accepted schema document, in bytes.
pub const MAX_SCHEMA_BYTES: usize = 256 * 1024;
/// Deepest accepted nesting of objects and arrays (the root counts as 1).
pub const MAX_DEPTH: usize = 64;

/// Keywords whose string value is a reference to another schema.
const REFERENCE_KEYWORDS: &[&str] = &["$ref", "$dynamicRef", "$recursiveRef"];
/// Keywords whose value is instance data, not a schema: a `$ref` inside them
/// is just data.
const DATA_KEYWORDS: &[&str] = &["const", "enum", "default", "examples"];
/// Keywords whose value maps arbitrary names (not keywords) to subschemas.
const NAMED_SUBSCHEMA_KEYWORDS: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
    "dependencies",
];

/// Why a schema document was refused; the `Display` text is the reason shown
/// to the caller after `json_schema: `.
#[derive(Debug, thiserror::Error)]
pub enum SchemaProblem {
    #[error("is larger than {MAX_SCHEMA_BYTES} bytes")]
    TooLarge,
    #[error("is not valid JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("must be a JSON object")]
    NotObject,
    #[error("nests objects and arrays deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("$schema `{0}` is not supported; use draft 2020-12 (the default), 2019-09 or draft-07")]
    UnsupportedDraft(String),
    #[error("does not conform to its meta-schema at {}: {message}", describe_path(.instance_path))]
    MetaSchema {
        instance_path: String,
        message: String,
    },
    #[error("remote $ref {0} is not allowed")]
    RemoteRef(String),
    #[error("cannot be compiled: {0}")]
    Compile(String),
}

fn describe_path(path: &str) -> String {
    if path.is_empty() {
        "the document root".to_string()
    } else {
        format!("`{path}`")
    }
}

/// A document that passed every check, and its compiled validator.
pub struct CheckedSchema {
    pub document: Value,
    pub validator: Validator,
}

/// Runs every check on `text`; CPU-bound, so async callers should run it
/// off the runtime's worker threads.
pub fn check(text: &str) -> Result<CheckedSchema, SchemaProblem> {
    if text.len() > MAX_SCHEMA_BYTES {
        return Err(SchemaProblem::TooLarge);
    }
    let document: Value = serde_json::from_str(text).map_err(SchemaProblem::NotJson)?;
    if !document.is_object() {
        return Err(SchemaProblem::NotObject);
    }
    if depth_exceeds(&document, MAX_DEPTH) {
        return Err(SchemaProblem::TooDeep);
    }
    let draft = draft_of(&document)?;
    check_meta_schema(&document, draft)?;
    if let Some(reference) = find_remote_ref(&document, false) {
        return Err(SchemaProblem::RemoteRef(reference.to_string()));
    }
    let validator = build(&document, draft)?;
    Ok(CheckedSchema {
        document,
        validator,
    })
}

/// Compiles a document that [`check`] accepted earlier (e.g. read back from
/// the database).
pub fn compile(document: &Value) -> Result<Validator, SchemaProblem> {
    build(document, draft_of(document)?)
}

/// The draft named by `$schema`; 2020-12 when there is none.
pub(crate) fn draft_of(document: &Value) -> Result<Draft, SchemaProblem> {
    let Some(declared) = document.get("$schema") else {
        return Ok(Draft::Draft202012);
    };
    // A non-string `$schema` is left to the meta-schema check, which names it.
    let Some(uri) = declared.as_str() else {
        return Ok(Draft::Draft202012);
    };
    match Draft::from_schema_uri(uri) {
        draft @ (Draft::Draft7 | Draft::Draft201909 | Draft::Draft202012) => Ok(draft),
        _ => Err(SchemaProblem::UnsupportedDraft(uri.to_string())),
    }
}

fn check_meta_schema(document: &Value, draft: Draft) -> Result<(), SchemaProblem> {
    // The draft-specific validators are bundled with jsonschema; the generic
    // `jsonschema::meta::validate` would try to fetch an unknown `$schema`.
    let result = match draft {
        Draft::Draft7 => jsonschema::draft7::meta::validate(document),
        Draft::Draft201909 => jsonschema::draft201909::meta::validate(document),
        _ => jsonschema::draft202012::meta::validate(document),
    };
    result.map_err(|error| SchemaProblem::MetaSchema {
        instance_path: error.instance_path().as_str().to_string(),
        message: error.to_string(),
    })
}

pub(crate) fn build(document: &Value, draft: Draft) -> Result<Validator, SchemaProblem> {
    jsonschema::options()
        .with_draft(draft)
        .should_validate_formats(true)
        .with_retriever(NoRetrieval)
        .build(document)
        .map_err(|error| SchemaProblem::Compile(error.to_string()))
}

/// Refuses every external resource, so compiling can never reach the network
/// or the disk whatever features jsonschema was built with.
struct NoRetrieval;

impl Retrieve for NoRetrieval {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(
            format!("{uri} is not part of the document and external references are not fetched")
                .into(),
        )
    }
}

/// True when objects and arrays nest deeper than `limit` levels.
fn depth_exceeds(value: &Value, limit: usize) -> bool {
    // serde_json refuses documents nested deeper than 128, which bounds this
    // recursion.
    match value {
        Value::Object(_) | Value::Array(_) if limit == 0 => true,
        Value::Object(map) => map.values().any(|child| depth_exceeds(child, limit - 1)),
        Value::Array(items) => items.iter().any(|child| depth_exceeds(child, limit - 1)),
        _ => false,
    }
}

/// The first reference that does not point inside the document itself.
/// `keys_are_names` is true inside `properties` and the like, where keys are
/// property or definition names rather than keywords.
fn find_remote_ref(value: &Value, keys_are_names: bool) -> Option<&str> {
    match value {
        Value::Object(map) => map.iter().find_map(|(key, child)| {
            if keys_are_names {
                return find_remote_ref(child, false);
            }
            if REFERENCE_KEYWORDS.contains(&key.as_str())
                && let Some(reference) = child.as_str()
                && !is_local(reference)
            {
                return Some(reference);
            }
            if DATA_KEYWORDS.contains(&key.as_str()) {
                return None;
            }
            find_remote_ref(child, NAMED_SUBSCHEMA_KEYWORDS.contains(&key.as_str()))
        }),
        Value::Array(items) => items.iter().find_map(|item| find_remote_ref(item, false)),
        _ => None,
    }
}

/// A fragment (`#`, `#/$defs/x`, `#anchor`) or the empty reference, which
/// both resolve within the current document.
fn is_local(reference: &str) -> bool {
    reference.is_empty() || reference.starts_with('#')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn problem(text: &str) -> SchemaProblem {
        match check(text) {
            Ok(_) => panic!("{text} was accepted"),
            Err(problem) => problem,
        }
    }

    #[test]
    fn accepts_a_plain_object_schema_and_validates_formats() {
        let checked =
            check(r#"{"type":"object","properties":{"email":{"type":"string","format":"email"}}}"#)
                .expect("accepted");
        assert!(
            checked
                .validator
                .is_valid(&json!({"email": "a@example.com"}))
        );
        assert!(
            !checked
                .validator
                .is_valid(&json!({"email": "not an email"}))
        );
    }

    #[test]
    fn refuses_oversized_documents() {
        let padding = " ".repeat(MAX_SCHEMA_BYTES);
        let text = format!("{{}}{padding}");
        assert!(matches!(problem(&text), SchemaProblem::TooLarge));
        assert_eq!(problem(&text).to_string(), "is larger than 262144 bytes");
    }

    #[test]
    fn refuses_malformed_json_and_non_objects() {
        let message = problem(r#"{"type": "#).to_string();
        assert!(message.starts_with("is not valid JSON: "), "{message}");
        assert!(matches!(problem("[]"), SchemaProblem::NotObject));
        assert!(matches!(problem("true"), SchemaProblem::NotObject));
    }

    #[test]
    fn refuses_deep_nesting() {
        let deep = |levels: usize| {
            let mut text = String::new();
            for _ in 1..levels {
                text.push_str(r#"{"not":"#);
            }
            text.push_str("{}");
            text.push_str(&"}".repeat(levels - 1));
            text
        };
        assert!(check(&deep(MAX_DEPTH)).is_ok());
        assert!(matches!(
            problem(&deep(MAX_DEPTH + 1)),
            SchemaProblem::TooDeep
        ));
    }

    #[test]
    fn names_the_meta_schema_violation() {
        let SchemaProblem::MetaSchema {
            instance_path,
            message,
        } = problem(r#"{"type": 12}"#)
        else {
            panic!("expected a meta-schema problem");
        };
        assert_eq!(instance_path, "/type");
        assert!(message.contains("12"), "{message}");
        assert!(
            problem(r#"{"type": 12}"#)
                .to_string()
                .starts_with("does not conform to its meta-schema at `/type`: ")
        );
    }

    #[test]
    fn refuses_remote_references_anywhere() {
        for (text, uri) in [
            (
                r#"{"$ref": "https://example.com/s.json"}"#,
                "https://example.com/s.json",
            ),
            (
                r#"{"properties": {"a": {"items": {"$ref": "http://x/y#/z"}}}}"#,
                "http://x/y#/z",
            ),
            (r#"{"allOf": [{"$ref": "other.json"}]}"#, "other.json"),
            (r#"{"$defs": {"a": {"$dynamicRef": "urn:x"}}}"#, "urn:x"),
            (r#"{"$ref": "file:///etc/passwd"}"#, "file:///etc/passwd"),
        ] {
            let found = problem(text);
            assert!(
                matches!(&found, SchemaProblem::RemoteRef(u) if u == uri),
                "{text}: {found}"
            );
            assert_eq!(
                found.to_string(),
                format!("remote $ref {uri} is not allowed")
            );
        }
    }

    #[test]
    fn ignores_ref_lookalikes_that_are_data_or_names() {
        let text = r##"{
            "properties": {"$ref": {"type": "string"}},
            "const": {"$ref": "https://example.com"},
            "examples": [{"$ref": "https://example.com"}]
        }"##;
        assert!(check(text).is_ok());
    }

    #[test]
    fn resolves_local_references_of_each_draft() {
        let modern = check(r##"{"$defs": {"n": {"type": "integer"}}, "properties": {"a": {"$ref": "#/$defs/n"}}}"##)
            .expect("2020-12 accepted");
        assert!(!modern.validator.is_valid(&json!({"a": "x"})));
        let draft7 = check(
            r##"{"$schema": "http://json-schema.org/draft-07/schema#",
                 "definitions": {"n": {"type": "integer"}},
                 "properties": {"a": {"$ref": "#/definitions/n"}}}"##,
        )
        .expect("draft-07 accepted");
        assert!(draft7.validator.is_valid(&json!({"a": 1})));
        assert!(!draft7.validator.is_valid(&json!({"a": "x"})));
        let draft2019 = check(
            r#"{"$schema": "https://json-schema.org/draft/2019-09/schema", "type": "object"}"#,
        );
        assert!(draft2019.is_ok());
    }

    #[test]
    fn refuses_unknown_drafts_and_dangling_references() {
        assert!(matches!(
            problem(r#"{"$schema": "https://example.com/my-meta"}"#),
            SchemaProblem::UnsupportedDraft(_)
        ));
        assert!(matches!(
            problem(r##"{"$ref": "#/$defs/missing"}"##),
            SchemaProblem::Compile(_)
        ));
    }

    #[test]
    fn compiling_never_fetches_even_past_the_ref_check() {
        // `compile` skips the up-front `$ref` scan: the retriever alone must
        // refuse.
        let Err(SchemaProblem::Compile(message)) =
            compile(&json!({"$ref": "https://example.com/s.json"}))
        else {
            panic!("a remote reference compiled");
        };
        assert!(message.contains("https://example.com/s.json"), "{message}");
    }

    #[test]
    fn an_id_and_explicit_meta_schema_need_no_retrieval() {
        let checked = check(
            r##"{"$schema": "https://json-schema.org/draft/2020-12/schema",
                 "$id": "https://example.com/schemas/lead",
                 "$defs": {"n": {"type": "integer"}},
                 "properties": {"a": {"$ref": "#/$defs/n"}}}"##,
        )
        .expect("accepted");
        assert!(!checked.validator.is_valid(&json!({"a": "x"})));
    }

    #[test]
    fn compiles_stored_documents_like_check_does() {
        let document = json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "string", "format": "email"});
        let validator = compile(&document).expect("compiles");
        assert!(!validator.is_valid(&json!("nope")));
    }
}
