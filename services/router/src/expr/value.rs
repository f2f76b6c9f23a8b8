//! The `event` variable and what expressions read of it. Strings borrow
//! from the event and its payload instead of being copied.
//!
//! An [`super::eval::EventScope`] binds the fields of `event` but the payload
//! once per event, each as the variable [`field_variable`] names; payload
//! paths are read from the JSON as needed (see [`super::paths`], which
//! converts the values it reads with [`json_value`]). `event` itself, as a
//! CEL map ([`event_value`]), is only built for an expression that uses it
//! otherwise than through its fields.
//!
//! JSON numbers become `int` when they are integers that fit an `int64`,
//! `uint` when only a `uint64` holds them, and `double` otherwise: so
//! `event.payload.amount > 100` works for `150` and `150.5` alike (CEL
//! compares numbers across types), while arithmetic mixing the two needs
//! `double(…)`.

use std::collections::HashMap;

use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelTimestamp,
    CelUInt,
};
use cel::common::value::Val;
use chrono::{DateTime, Utc};
use serde_json::Value as Json;

/// What an expression sees of one event.
#[derive(Clone, Copy, Debug)]
pub struct EventFields<'a> {
    pub event_type: &'a str,
    pub id: &'a str,
    pub payload: &'a Json,
    pub received_at: DateTime<Utc>,
    pub schema_version: i64,
}

/// The fields `event` has; anything else is refused when a rule is saved.
pub const EVENT_FIELDS: &[&str] = &["type", "id", "payload", "received_at", "schema_version"];

/// The variable each field of `event` is bound to; `@` keeps the names out
/// of reach of expressions. The payload's is answered by
/// [`super::paths`], not bound.
const FIELD_VARIABLES: [(&str, &str); 5] = [
    ("type", "@event.type"),
    ("id", "@event.id"),
    ("received_at", "@event.received_at"),
    ("schema_version", "@event.schema_version"),
    ("payload", "@payload"),
];

/// The variable `event.<field>` is rewritten to, for a field `event` has.
pub fn field_variable(field: &str) -> Option<&'static str> {
    FIELD_VARIABLES
        .iter()
        .find(|(name, _)| *name == field)
        .map(|(_, variable)| *variable)
}

/// The fields of `event` but the payload, each with its [`field_variable`].
pub fn field_values<'v>(
    fields: &EventFields<'v>,
) -> impl Iterator<Item = (&'static str, Box<dyn Val + 'v>)> {
    let values: [Box<dyn Val + 'v>; 4] = [
        Box::new(CelString::from(fields.event_type)),
        Box::new(CelString::from(fields.id)),
        Box::new(CelTimestamp::from(fields.received_at.fixed_offset())),
        Box::new(CelInt::from(fields.schema_version)),
    ];
    FIELD_VARIABLES
        .into_iter()
        .map(|(_, variable)| variable)
        .zip(values)
}

fn key(name: &str) -> CelMapKey<'_> {
    CelMapKey::String(CelString::from(name))
}

/// `event` as a CEL value borrowing from `fields`.
pub fn event_value<'v>(fields: &EventFields<'v>) -> Box<dyn Val + 'v> {
    let map: HashMap<CelMapKey<'v>, Box<dyn Val + 'v>> = FIELD_VARIABLES
        .iter()
        .map(|(name, _)| key(name))
        .zip(
            field_values(fields)
                .map(|(_, value)| value)
                .chain([json_value(fields.payload)]),
        )
        .collect();
    Box::new(CelMap::from(map))
}

/// A JSON value as a CEL value borrowing its strings.
pub fn json_value(json: &Json) -> Box<dyn Val + '_> {
    match json {
        Json::Null => Box::new(CelNull),
        Json::Bool(value) => Box::new(CelBool::from(*value)),
        Json::Number(number) => {
            if let Some(int) = number.as_i64() {
                Box::new(CelInt::from(int))
            } else if let Some(uint) = number.as_u64() {
                Box::new(CelUInt::from(uint))
            } else {
                // serde_json without arbitrary precision always has an f64.
                Box::new(CelDouble::from(number.as_f64().unwrap_or(f64::NAN)))
            }
        }
        Json::String(text) => Box::new(CelString::from(text.as_str())),
        Json::Array(items) => Box::new(CelList::from(
            items.iter().map(json_value).collect::<Vec<_>>(),
        )),
        Json::Object(object) => {
            let map: HashMap<CelMapKey<'_>, Box<dyn Val + '_>> = object
                .iter()
                .map(|(name, value)| (key(name), json_value(value)))
                .collect();
            Box::new(CelMap::from(map))
        }
    }
}
