//! Event type names: dotted, lower case, at least two segments
//! (`lead.created`, `invoice.payment_failed`).

use std::fmt;

/// Longest accepted event type name, in bytes.
pub const MAX_EVENT_TYPE_LEN: usize = 128;

/// A validated event type name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EventTypeName(String);

impl EventTypeName {
    /// Accepts `^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`, at most 128 bytes.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("is required".to_string());
        }
        if text.len() > MAX_EVENT_TYPE_LEN {
            return Err(format!("is longer than {MAX_EVENT_TYPE_LEN} bytes"));
        }
        let mut segments = 0;
        for segment in text.split('.') {
            segments += 1;
            let mut bytes = segment.bytes();
            let starts_with_letter = bytes.next().is_some_and(|b| b.is_ascii_lowercase());
            let rest_ok = bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !starts_with_letter || !rest_ok {
                return Err(format!(
                    "`{text}` must be dot-separated segments of lower-case letters, digits and `_`, each starting with a letter (e.g. `lead.created`)"
                ));
            }
        }
        if segments < 2 {
            return Err(format!(
                "`{text}` needs at least two dot-separated segments (e.g. `lead.created`)"
            ));
        }
        Ok(Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventTypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dotted_lower_case_names() {
        for name in ["lead.created", "invoice.payment_failed", "a.b.c9"] {
            assert_eq!(
                EventTypeName::parse(name).map(|n| n.to_string()),
                Ok(name.to_string())
            );
        }
    }

    #[test]
    fn refuses_everything_else() {
        for name in [
            "",
            "lead",
            "Lead.created",
            "lead..created",
            "lead.",
            "1lead.x",
            "lead.cre-ated",
            "lead.*",
        ] {
            assert!(EventTypeName::parse(name).is_err(), "{name} was accepted");
        }
        assert!(EventTypeName::parse(&format!("a.{}", "b".repeat(200))).is_err());
    }
}
