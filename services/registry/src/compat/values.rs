//! Writers that can only produce a few values (`enum`, `const`, or only
//! `null`/`boolean` types) are checked exactly: each value is validated
//! against the reader node, compiled on its own with the root's
//! definitions, and every validation error becomes a finding at the failing
//! keyword.

use serde_json::{Map, Value};

use super::types::Types;
use super::walk::{Comparer, describe};
use crate::schema;

impl Comparer<'_> {
    /// Validates each value a finite writer can produce against the reader.
    pub(super) fn check_values(
        &mut self,
        values: &[Value],
        reader: &Map<String, Value>,
        path: &str,
    ) {
        let standalone = self.reader.standalone(reader);
        let validator = match schema::build(&standalone, self.reader.draft) {
            Ok(validator) => validator,
            Err(problem) => {
                self.cannot_prove(
                    path,
                    format!("listed values not checked: the schema here {problem}"),
                );
                return;
            }
        };
        for value in values {
            for error in validator.iter_errors(value) {
                let keyword = error.kind().keyword();
                let schema_path = error.schema_path().as_str();
                // Definitions sit at the document root in both documents.
                let at = if schema_path.starts_with("/$defs/")
                    || schema_path.starts_with("/definitions/")
                {
                    schema_path.to_string()
                } else {
                    format!("{path}{schema_path}")
                };
                let shown = describe(value);
                let reason = if keyword == "enum" || keyword == "const" {
                    self.pick(
                        format!("value {shown} removed"),
                        format!("value {shown} added"),
                    )
                } else {
                    self.pick(
                        format!("excludes {shown}, which the old schema allowed"),
                        format!("excludes {shown}, which the new schema allows"),
                    )
                };
                self.report(&at, reason);
            }
        }
    }
}

/// The values of a writer that can only produce a few: its `const`, its
/// `enum`, or the values of `null`/`boolean` types.
pub(super) fn finite_values(writer: &Map<String, Value>) -> Option<Vec<Value>> {
    if let Some(value) = writer.get("const") {
        return Some(vec![value.clone()]);
    }
    if let Some(Value::Array(values)) = writer.get("enum") {
        return Some(values.clone());
    }
    let declared = Types::declared(writer)?;
    if declared.is_empty() || !Types::NULL.union(Types::BOOLEAN).contains(declared) {
        return None;
    }
    let mut values = Vec::new();
    if declared.intersects(Types::NULL) {
        values.push(Value::Null);
    }
    if declared.intersects(Types::BOOLEAN) {
        values.extend([Value::Bool(false), Value::Bool(true)]);
    }
    Some(values)
}
