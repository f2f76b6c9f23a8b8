//! The JSON types a schema admits, as a small bit set, with `integer` a
//! subset of `number`.

use std::fmt;

use serde_json::{Map, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Types(u8);

const NAMES: [(&str, u8); 7] = [
    ("null", 1),
    ("boolean", 2),
    ("object", 4),
    ("array", 8),
    ("number", 16),
    ("string", 32),
    ("integer", 64),
];

impl Types {
    pub const NONE: Types = Types(0);
    pub const NULL: Types = Types(1);
    pub const BOOLEAN: Types = Types(2);
    pub const OBJECT: Types = Types(4);
    pub const ARRAY: Types = Types(8);
    pub const NUMBER: Types = Types(16);
    pub const STRING: Types = Types(32);
    pub const INTEGER: Types = Types(64);
    pub const ALL: Types = Types(127);

    /// The `type` keyword of a schema; `None` when absent (every type).
    pub fn declared(schema: &Map<String, Value>) -> Option<Types> {
        let named = |name: &str| {
            NAMES
                .iter()
                .find(|(known, _)| *known == name)
                .map_or(Types::NONE, |(_, bit)| Types(*bit))
        };
        match schema.get("type")? {
            Value::String(name) => Some(named(name)),
            Value::Array(names) => Some(
                names
                    .iter()
                    .filter_map(Value::as_str)
                    .fold(Types::NONE, |set, name| set.union(named(name))),
            ),
            _ => None,
        }
    }

    pub fn union(self, other: Types) -> Types {
        Types(self.0 | other.0)
    }

    pub fn contains(self, other: Types) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }

    pub fn intersects(self, other: Types) -> bool {
        self.0 & other.0 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// May hold numbers of some kind.
    pub fn has_numbers(self) -> bool {
        self.intersects(Types::NUMBER.union(Types::INTEGER))
    }

    /// Numbers, if any, are integers only.
    pub fn integers_only(self) -> bool {
        !self.intersects(Types::NUMBER)
    }

    /// The part of a writer's types (`self`) a reader admitting `reader`
    /// accepts: a reader's `number` takes integers; a writer's `number`
    /// keeps its integers when the reader takes `integer` only.
    pub fn accepted_by(self, reader: Types) -> Types {
        let mut kept = Types(self.0 & reader.0);
        if self.contains(Types::INTEGER) && reader.contains(Types::NUMBER) {
            kept = kept.union(Types::INTEGER);
        }
        if self.contains(Types::NUMBER) && reader.contains(Types::INTEGER) {
            kept = kept.union(Types::INTEGER);
        }
        kept
    }

    /// Whether the reader accepts every value of these types.
    pub fn all_accepted_by(self, reader: Types) -> bool {
        let integers_covered = !self.contains(Types::INTEGER)
            || reader.intersects(Types::NUMBER.union(Types::INTEGER));
        let rest = Types(self.0 & !Types::INTEGER.0);
        Types(rest.0 & reader.0) == rest && integers_covered
    }
}

/// `number`, `[integer, string]`, or `any type`.
impl fmt::Display for Types {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Types::ALL {
            return f.write_str("any type");
        }
        let names: Vec<&str> = NAMES
            .iter()
            .filter(|(_, bit)| self.0 & bit != 0)
            .map(|(name, _)| *name)
            .collect();
        match names.as_slice() {
            [] => f.write_str("no type"),
            [one] => f.write_str(one),
            many => write!(f, "[{}]", many.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn declared(schema: Value) -> Option<Types> {
        Types::declared(schema.as_object().expect("object"))
    }

    #[test]
    fn integers_are_numbers_but_not_the_reverse() {
        let integer = Types::INTEGER;
        let number = Types::NUMBER;
        assert!(integer.all_accepted_by(number));
        assert!(!number.all_accepted_by(integer));
        assert_eq!(number.accepted_by(integer), Types::INTEGER);
        assert!(Types::NUMBER.union(Types::INTEGER).all_accepted_by(number));
    }

    #[test]
    fn reads_the_type_keyword_and_values() {
        assert_eq!(declared(json!({"type": "string"})), Some(Types::STRING));
        assert_eq!(
            declared(json!({"type": ["string", "null"]})),
            Some(Types::STRING.union(Types::NULL))
        );
        assert_eq!(declared(json!({})), None);
        assert_eq!(
            Types::STRING.union(Types::NULL).to_string(),
            "[null, string]"
        );
        assert_eq!(Types::ALL.to_string(), "any type");
    }
}
