//! Running one payload against a compiled validator and collecting every
//! violation, so a caller fixes all of them in one round trip.
//!
//! Each violation carries JSON pointers into the payload and into the schema
//! (`schema_path` is the keyword's location in the stored document, not the
//! path taken through `$ref`s), the failing keyword and jsonschema's message.

use jsonschema::Validator;
use serde_json::Value;

/// Most violations returned for one payload; a broken payload against a
/// large schema could otherwise produce an unbounded response.
pub const MAX_VIOLATIONS: usize = 100;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer into the payload; empty for the payload itself.
    pub instance_path: String,
    /// JSON pointer to the failing keyword in the schema document.
    pub schema_path: String,
    pub keyword: String,
    pub message: String,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub violations: Vec<Violation>,
    /// True when more than [`MAX_VIOLATIONS`] existed.
    pub truncated: bool,
}

impl Outcome {
    pub fn is_valid(&self) -> bool {
        self.violations.is_empty()
    }
}

pub fn check(validator: &Validator, payload: &Value) -> Outcome {
    // Most payloads are valid, and `is_valid` stops early and builds no
    // error values: several times faster than collecting nothing.
    if validator.is_valid(payload) {
        return Outcome::default();
    }
    let mut errors = validator.iter_errors(payload);
    let violations = errors
        .by_ref()
        .take(MAX_VIOLATIONS)
        .map(|error| Violation {
            instance_path: error.instance_path().as_str().to_string(),
            schema_path: error.schema_path().as_str().to_string(),
            keyword: error.kind().keyword().to_string(),
            message: error.to_string(),
        })
        .collect();
    // One more error is enough to know the list was cut; counting them all
    // would cost as much as returning them.
    let truncated = errors.next().is_some();
    Outcome {
        violations,
        truncated,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn validator(schema: Value) -> Validator {
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("schema compiles")
    }

    #[test]
    fn a_valid_payload_has_no_violations() {
        let outcome = check(&validator(json!({"type": "object"})), &json!({}));
        assert!(outcome.is_valid());
        assert!(!outcome.truncated);
    }

    #[test]
    fn reports_paths_keywords_and_messages() {
        let validator = validator(json!({
            "type": "object",
            "required": ["id"],
            "properties": {"email": {"type": "string", "format": "email"}}
        }));
        let outcome = check(&validator, &json!({"email": "nope"}));
        assert_eq!(outcome.violations.len(), 2);
        let required = &outcome.violations[0];
        assert_eq!(
            (
                required.instance_path.as_str(),
                required.schema_path.as_str(),
                required.keyword.as_str()
            ),
            ("", "/required", "required")
        );
        assert!(required.message.contains("\"id\""), "{}", required.message);
        let format = &outcome.violations[1];
        assert_eq!(
            (
                format.instance_path.as_str(),
                format.schema_path.as_str(),
                format.keyword.as_str()
            ),
            ("/email", "/properties/email/format", "format")
        );
    }

    #[test]
    fn caps_the_number_of_violations() {
        let validator = validator(json!({"items": {"type": "string"}}));
        let payload = Value::Array((0..150).map(Value::from).collect());
        let outcome = check(&validator, &payload);
        assert_eq!(outcome.violations.len(), MAX_VIOLATIONS);
        assert!(outcome.truncated);
        assert_eq!(outcome.violations[99].instance_path, "/99");

        let exactly = Value::Array((0..100).map(Value::from).collect());
        assert!(!check(&validator, &exactly).truncated);
    }
}
