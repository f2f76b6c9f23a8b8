//! A mapping's result as JSON text, written straight from the CEL value
//! (no intermediate `serde_json::Value`, which costs an allocation per key).
//!
//! Timestamps become RFC 3339 strings, durations CEL's `"<seconds>s"`, bytes
//! base64, optionals their value or `null`; map keys that are ints, uints or
//! bools become their decimal or `true`/`false` text, and object keys are
//! written sorted so the same body always reads the same. Doubles that are
//! not finite, and type values, have no JSON form and fail the mapping.

use std::borrow::Cow;

use base64::Engine as _;
use cel::common::types::{
    CelBool, CelBytes, CelDouble, CelDuration, CelInt, CelMap, CelMapKey, CelOptional, CelString,
    CelTimestamp, CelUInt, Kind,
};
use cel::common::value::Val;
use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// Largest body a mapping may build.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Room a body usually fits in, so writing it rarely grows the buffer.
const INITIAL_BODY_BYTES: usize = 256;

/// Writes `body` (an [`AsJson`], or a [`super::body::Shape`] made of them)
/// as JSON text, within [`MAX_BODY_BYTES`].
pub fn write_json_text(body: &impl Serialize) -> Result<String, String> {
    let mut bytes = Vec::with_capacity(INITIAL_BODY_BYTES);
    serde_json::to_writer(&mut bytes, body).map_err(|error| error.to_string())?;
    // serde_json writes UTF-8 only; the check is one pass over the bytes.
    let text = String::from_utf8(bytes).map_err(|error| error.to_string())?;
    if text.len() > MAX_BODY_BYTES {
        return Err(format!(
            "the mapped body is {} bytes, more than the limit of {MAX_BODY_BYTES}",
            text.len()
        ));
    }
    Ok(text)
}

/// A CEL value serialised as JSON; see the module doc.
pub struct AsJson<'a, 'v>(pub &'a (dyn Val + 'v));

fn downcast<'a, 'v, T: cel::common::value::FromVal<'a, 'v>, E: serde::ser::Error>(
    value: &'a (dyn Val + 'v),
) -> Result<&'a T, E> {
    value.downcast_ref::<T>().ok_or_else(|| {
        E::custom(format!(
            "a {} value has no JSON form",
            value.get_type().name()
        ))
    })
}

fn key_text<'a>(key: &'a CelMapKey<'_>) -> Cow<'a, str> {
    match key {
        CelMapKey::String(text) => Cow::Borrowed(text.inner()),
        CelMapKey::Int(int) => Cow::Owned(int.inner().to_string()),
        CelMapKey::UInt(uint) => Cow::Owned(uint.inner().to_string()),
        CelMapKey::Bool(boolean) => Cow::Owned(boolean.inner().to_string()),
    }
}

impl Serialize for AsJson<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value = self.0;
        match value.get_type().kind() {
            Kind::NullType => serializer.serialize_unit(),
            Kind::Boolean => serializer.serialize_bool(*downcast::<CelBool, _>(value)?.inner()),
            Kind::Int => serializer.serialize_i64(*downcast::<CelInt, _>(value)?.inner()),
            Kind::UInt => serializer.serialize_u64(*downcast::<CelUInt, _>(value)?.inner()),
            Kind::Double => {
                let double = *downcast::<CelDouble, _>(value)?.inner();
                if !double.is_finite() {
                    return Err(S::Error::custom(format!("{double} has no JSON form")));
                }
                serializer.serialize_f64(double)
            }
            Kind::String => serializer.serialize_str(downcast::<CelString<'_>, _>(value)?.inner()),
            Kind::Bytes => serializer.serialize_str(
                &base64::engine::general_purpose::STANDARD
                    .encode(downcast::<CelBytes<'_>, _>(value)?.inner()),
            ),
            Kind::Timestamp => serializer.serialize_str(
                &downcast::<CelTimestamp, _>(value)?
                    .inner()
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            ),
            Kind::Duration => {
                let duration = downcast::<CelDuration, _>(value)?.inner();
                let seconds = duration.num_milliseconds() as f64 / 1000.0;
                serializer.serialize_str(&format!("{seconds}s"))
            }
            Kind::List => {
                let iterable = value.as_iterable().ok_or_else(|| {
                    S::Error::custom(format!(
                        "a {} value has no JSON form",
                        value.get_type().name()
                    ))
                })?;
                let mut items = iterable.iter();
                let mut sequence = serializer.serialize_seq(None)?;
                while let Some(item) = items.next() {
                    sequence.serialize_element(&AsJson(item))?;
                }
                sequence.end()
            }
            Kind::Map => {
                let map = downcast::<CelMap<'_>, _>(value)?;
                let mut entries: Vec<(Cow<'_, str>, &dyn Val)> = map
                    .inner()
                    .iter()
                    .map(|(key, value)| (key_text(key), value.as_ref()))
                    .collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                let mut object = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    object.serialize_entry(&key, &AsJson(value))?;
                }
                object.end()
            }
            _ => match value.downcast_ref::<CelOptional<'_>>() {
                Some(optional) => match optional.option() {
                    Some(inner) => AsJson(inner).serialize(serializer),
                    None => serializer.serialize_unit(),
                },
                None => Err(S::Error::custom(format!(
                    "a {} value has no JSON form",
                    value.get_type().name()
                ))),
            },
        }
    }
}
