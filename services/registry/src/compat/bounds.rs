//! Numeric bounds (`minimum`, `exclusiveMinimum`, `maximum`,
//! `exclusiveMaximum`, `multipleOf`), string constraints (`minLength`,
//! `maxLength`, `pattern`, `format`) and the counting bounds objects and
//! arrays share (`min/maxItems`, `min/maxProperties`).
//!
//! A reader bound is fine when the writer's is at least as strict. When
//! only integers are in play, exclusive bounds become inclusive ones
//! (`exclusiveMinimum: 0` is `minimum: 1`), so equivalent spellings agree.

use serde_json::{Map, Value};

use super::walk::{Comparer, child};

#[derive(Clone, Copy, Debug)]
struct Bound {
    /// Compared; for integers, the inclusive equivalent.
    value: f64,
    exclusive: bool,
    keyword: &'static str,
    /// As written, for messages.
    written: f64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Lower,
    Upper,
}

impl Bound {
    /// The stricter of the inclusive and exclusive keywords on one side.
    fn of(schema: &Map<String, Value>, side: Side, integers_only: bool) -> Option<Bound> {
        let (inclusive, exclusive) = match side {
            Side::Lower => ("minimum", "exclusiveMinimum"),
            Side::Upper => ("maximum", "exclusiveMaximum"),
        };
        let found = [(inclusive, false), (exclusive, true)]
            .into_iter()
            .filter_map(|(keyword, is_exclusive)| {
                let value = schema.get(keyword)?.as_f64()?;
                Some(Bound {
                    value,
                    exclusive: is_exclusive,
                    keyword,
                    written: value,
                })
            })
            .map(|bound| {
                if integers_only {
                    bound.for_integers(side)
                } else {
                    bound
                }
            });
        found.reduce(|a, b| if a.within(&b, side) { a } else { b })
    }

    /// The same bound on integers, inclusive.
    fn for_integers(self, side: Side) -> Bound {
        let value = match (side, self.exclusive) {
            (Side::Lower, true) => self.value.floor() + 1.0,
            (Side::Lower, false) => self.value.ceil(),
            (Side::Upper, true) => self.value.ceil() - 1.0,
            (Side::Upper, false) => self.value.floor(),
        };
        Bound {
            value,
            exclusive: false,
            ..self
        }
    }

    /// Whether every value within `self` is within `other`.
    fn within(&self, other: &Bound, side: Side) -> bool {
        let beyond = match side {
            Side::Lower => self.value > other.value,
            Side::Upper => self.value < other.value,
        };
        beyond || (self.value == other.value && (self.exclusive || !other.exclusive))
    }

    fn show(&self, other: &Bound) -> String {
        if self.keyword == other.keyword {
            number(self.written)
        } else {
            format!("{} {}", self.keyword, number(self.written))
        }
    }
}

pub(super) fn numbers(
    comparer: &mut Comparer<'_>,
    writer: &Map<String, Value>,
    reader: &Map<String, Value>,
    integers_only: bool,
    path: &str,
) {
    for side in [Side::Lower, Side::Upper] {
        let Some(required) = Bound::of(reader, side, integers_only) else {
            continue;
        };
        let at = child(path, required.keyword);
        match Bound::of(writer, side, integers_only) {
            None => {
                let reason = comparer.pick(
                    format!("added ({})", number(required.written)),
                    format!("removed (was {})", number(required.written)),
                );
                comparer.report(&at, reason);
            }
            Some(written) if !written.within(&required, side) => {
                let (was, now) = (written.show(&required), required.show(&written));
                let reason = comparer.pick(
                    format!("tightened from {was} to {now}"),
                    format!("loosened from {now} to {was}"),
                );
                comparer.report(&at, reason);
            }
            Some(_) => {}
        }
    }

    let Some(required) = reader.get("multipleOf").and_then(Value::as_f64) else {
        return;
    };
    let written = writer.get("multipleOf").and_then(Value::as_f64);
    let at = child(path, "multipleOf");
    match written.or(integers_only.then_some(1.0)) {
        Some(step) if is_multiple(step, required) => {}
        Some(step) if written.is_some() => {
            let (old, new) = if comparer.reader_is_new {
                (step, required)
            } else {
                (required, step)
            };
            comparer.report(
                &at,
                format!("changed from {} to {}", number(old), number(new)),
            );
        }
        _ => {
            let reason = comparer.pick(
                format!("added ({})", number(required)),
                format!("removed (was {})", number(required)),
            );
            comparer.report(&at, reason);
        }
    }
}

/// Whether every multiple of `step` is a multiple of `divisor`.
fn is_multiple(step: f64, divisor: f64) -> bool {
    if divisor <= 0.0 {
        return false;
    }
    let ratio = step / divisor;
    ratio >= 1.0 - 1e-9 && (ratio - ratio.round()).abs() <= 1e-9 * ratio.abs().max(1.0)
}

pub(super) fn strings(
    comparer: &mut Comparer<'_>,
    writer: &Map<String, Value>,
    reader: &Map<String, Value>,
    path: &str,
) {
    count_min(comparer, writer, reader, "minLength", path);
    count_max(comparer, writer, reader, "maxLength", path);
    for keyword in ["pattern", "format"] {
        let Some(required) = reader.get(keyword) else {
            continue;
        };
        let at = child(path, keyword);
        let shown = required
            .as_str()
            .map_or_else(|| required.to_string(), str::to_string);
        match writer.get(keyword) {
            Some(written) if written == required => {}
            Some(written) => {
                let written = written
                    .as_str()
                    .map_or_else(|| written.to_string(), str::to_string);
                let (old, new) = if comparer.reader_is_new {
                    (written, shown)
                } else {
                    (shown, written)
                };
                comparer.cannot_prove(&at, format!("changed from {old} to {new}"));
            }
            None => {
                let reason =
                    comparer.pick(format!("added {shown}"), format!("removed (was {shown})"));
                comparer.report(&at, reason);
            }
        }
    }
}

/// A lower count (`minLength`, `minItems`, `minProperties`); 0 is no bound.
pub(super) fn count_min(
    comparer: &mut Comparer<'_>,
    writer: &Map<String, Value>,
    reader: &Map<String, Value>,
    keyword: &str,
    path: &str,
) {
    let required = reader.get(keyword).and_then(Value::as_f64).unwrap_or(0.0);
    if required <= 0.0 {
        return;
    }
    let written = writer
        .get(keyword)
        .and_then(Value::as_f64)
        .filter(|count| *count > 0.0);
    report_count(
        comparer,
        written,
        required,
        written.is_some_and(|w| w >= required),
        keyword,
        path,
    );
}

/// An upper count (`maxLength`, `maxItems`, `maxProperties`).
pub(super) fn count_max(
    comparer: &mut Comparer<'_>,
    writer: &Map<String, Value>,
    reader: &Map<String, Value>,
    keyword: &str,
    path: &str,
) {
    let Some(required) = reader.get(keyword).and_then(Value::as_f64) else {
        return;
    };
    let written = writer.get(keyword).and_then(Value::as_f64);
    report_count(
        comparer,
        written,
        required,
        written.is_some_and(|w| w <= required),
        keyword,
        path,
    );
}

fn report_count(
    comparer: &mut Comparer<'_>,
    written: Option<f64>,
    required: f64,
    holds: bool,
    keyword: &str,
    path: &str,
) {
    if holds {
        return;
    }
    let reason = match written {
        Some(was) => comparer.pick(
            format!("tightened from {} to {}", number(was), number(required)),
            format!("loosened from {} to {}", number(required), number(was)),
        ),
        None => comparer.pick(
            format!("added ({})", number(required)),
            format!("removed (was {})", number(required)),
        ),
    };
    comparer.report(&child(path, keyword), reason);
}

/// `5` rather than `5.0` for integral values.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiples() {
        assert!(is_multiple(4.0, 2.0));
        assert!(is_multiple(1.0, 0.5));
        assert!(is_multiple(0.3, 0.1));
        assert!(!is_multiple(2.0, 4.0));
        assert!(!is_multiple(3.0, 2.0));
    }

    #[test]
    fn exclusive_integer_bounds_become_inclusive() {
        let schema: Map<String, Value> =
            serde_json::from_str(r#"{"exclusiveMinimum": 0, "maximum": 9.5}"#).unwrap_or_default();
        let lower =
            Bound::of(&schema, Side::Lower, true).map(|bound| (bound.value, bound.exclusive));
        let upper =
            Bound::of(&schema, Side::Upper, true).map(|bound| (bound.value, bound.exclusive));
        assert_eq!(lower, Some((1.0, false)));
        assert_eq!(upper, Some((9.0, false)));
    }
}
