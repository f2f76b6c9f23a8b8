//! The checker's entry points: [`check`] applies a mode to a new schema and
//! the versions before it; [`compare`] asks one reader/writer question.

use serde_json::Value;

use super::document::Document;
use super::mode::Mode;
use super::walk::Comparer;

/// One reason a reader may reject what a writer wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// JSON pointer along the described properties, e.g.
    /// `/properties/amount/type`; empty for the root.
    pub path: String,
    pub reason: String,
}

/// A [`Finding`] against one earlier version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incompatibility {
    pub version: u32,
    pub path: String,
    pub reason: String,
}

impl Incompatibility {
    /// `<pointer>: <reason>`, with `/` for the root.
    pub fn describe(&self) -> String {
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        format!("{path}: {}", self.reason)
    }
}

/// The incompatibilities of `new` under `mode` with `earlier` (version,
/// schema), oldest first; empty when compatible. BACKWARD-style modes make
/// `new` the reader, FORWARD-style ones the writer; transitive modes check
/// every earlier version, the others only the last.
pub fn check(mode: Mode, new: &Value, earlier: &[(u32, &Value)]) -> Vec<Incompatibility> {
    let compared = if mode.is_transitive() {
        earlier
    } else {
        earlier.last().map_or(&[][..], std::slice::from_ref)
    };
    let mut found = Vec::new();
    for (version, old) in compared {
        let mut findings = Vec::new();
        if mode.checks_backward() {
            findings.extend(compare(old, new, true));
        }
        if mode.checks_forward() {
            findings.extend(compare(new, old, false));
        }
        for finding in findings {
            let incompatibility = Incompatibility {
                version: *version,
                path: finding.path,
                reason: finding.reason,
            };
            if !found.contains(&incompatibility) {
                found.push(incompatibility);
            }
        }
    }
    found
}

/// Why a payload valid against `writer` may be invalid against `reader`
/// (both whole documents); empty when every such payload is valid.
/// `reader_is_new` only chooses the wording: reasons describe the change
/// from the old schema to the new one.
pub fn compare(writer: &Value, reader: &Value, reader_is_new: bool) -> Vec<Finding> {
    let mut comparer = Comparer::new(Document::new(writer), Document::new(reader), reader_is_new);
    comparer.compare(writer, reader, "");
    let mut unique: Vec<Finding> = Vec::with_capacity(comparer.findings.len());
    for finding in comparer.findings {
        if !unique.contains(&finding) {
            unique.push(finding);
        }
    }
    unique
}
