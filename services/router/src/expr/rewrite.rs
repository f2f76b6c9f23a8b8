//! The tree a checked expression is evaluated as: the parsed tree with
//!
//! - every comprehension's range and every `+` (but the accumulator appends
//!   that `map`/`filter` expand to, which the interpreter runs in place)
//!   wrapped in `@charge(…)`, so evaluation is bounded (see [`super::budget`]);
//! - every field selection `a.b` turned into the index `a["b"]`, which means
//!   the same on maps (the only values here with fields) but skips the
//!   interpreter's qualified-name resolution (`a.b.c` as one variable name
//!   first), an allocation and several lookups per selection. `has(a.b)`
//!   stays a selection: it is a presence test.
//! - every `event.<field>` turned into the variable [`field_variable`] holds
//!   it, which [`super::eval::EventScope`] binds: one variable lookup instead
//!   of a lookup and an index, for what nearly every expression starts with.
//!   Whatever still names `event` itself (`has(event.payload)`,
//!   `event[name]`, `event` as a value) gets it bound too, see
//!   [`mentions_event`].
//! - every path into the payload (`event.payload.a["b"]`, and `has()` of
//!   one) turned into one variable that [`super::paths`] answers from the
//!   JSON; that runs first, so the selections above are what is left.

use cel::common::ast::{CallExpr, EntryExpr, Expr, IdedExpr, LiteralValue, operators};
use cel::common::types::CelString;

use super::budget::CHARGE_FUNCTION;
use super::paths;
use super::value::field_variable;

/// The name of the event variable, see the module doc.
const EVENT: &str = "event";

/// Rewrites `node` in place.
pub fn instrument(node: &mut IdedExpr) {
    if let Some(path) = payload_path(node) {
        node.expr = Expr::Ident(paths::variable(&path, false));
        return;
    }
    if let Expr::Select(select) = &node.expr
        && select.test
        && let Some(mut path) = payload_path(&select.operand)
    {
        path.push(select.field.clone());
        node.expr = Expr::Ident(paths::variable(&path, true));
        return;
    }
    match &mut node.expr {
        Expr::Select(select) if !select.test && is_event(&select.operand) => {
            // `check` refuses any other field of `event` and shadowing it.
            if let Some(variable) = field_variable(&select.field) {
                node.expr = Expr::Ident(variable.to_string());
            } else {
                select_as_index(node);
            }
        }
        Expr::Select(select) if !select.test => select_as_index(node),
        Expr::Select(select) => instrument(&mut select.operand),
        Expr::Call(call_expr) => {
            if let Some(target) = &mut call_expr.target {
                instrument(target);
            }
            for argument in &mut call_expr.args {
                instrument(argument);
            }
            let appends_to_accumulator = matches!(
                call_expr.args.first().map(|first| &first.expr),
                Some(Expr::Ident(name)) if name.starts_with('@')
            );
            if call_expr.func_name == operators::ADD && !appends_to_accumulator {
                charge(node);
            }
        }
        Expr::List(list) => list.elements.iter_mut().for_each(instrument),
        Expr::Map(map) => {
            for entry in &mut map.entries {
                if let EntryExpr::MapEntry(entry) = &mut entry.expr {
                    instrument(&mut entry.key);
                    instrument(&mut entry.value);
                }
            }
        }
        Expr::Comprehension(comprehension) => {
            instrument(&mut comprehension.iter_range);
            charge(&mut comprehension.iter_range);
            instrument(&mut comprehension.accu_init);
            instrument(&mut comprehension.loop_cond);
            instrument(&mut comprehension.loop_step);
            instrument(&mut comprehension.result);
        }
        Expr::Struct(_) | Expr::Literal(_) | Expr::Ident(_) | Expr::Unspecified => {}
    }
}

/// The keys of the payload path `node` reads, if it is one: `event.payload`
/// followed by fields or string literal indexes (see [`paths`]).
fn payload_path(node: &IdedExpr) -> Option<Vec<String>> {
    match &node.expr {
        Expr::Select(select) if !select.test && is_event(&select.operand) => {
            (select.field == "payload").then(Vec::new)
        }
        Expr::Select(select) if !select.test => {
            let mut path = payload_path(&select.operand)?;
            path.push(select.field.clone());
            Some(path)
        }
        Expr::Call(call_expr)
            if call_expr.func_name == operators::INDEX && call_expr.target.is_none() =>
        {
            let [operand, key] = call_expr.args.as_slice() else {
                return None;
            };
            let Expr::Literal(LiteralValue::String(key)) = &key.expr else {
                return None;
            };
            let mut path = payload_path(operand)?;
            path.push(key.inner().to_string());
            Some(path)
        }
        _ => None,
    }
}

fn is_event(node: &IdedExpr) -> bool {
    matches!(&node.expr, Expr::Ident(name) if name == EVENT)
}

/// Turns the selection `a.b` at `node` into the index `a["b"]`.
fn select_as_index(node: &mut IdedExpr) {
    let Expr::Select(select) = &mut node.expr else {
        return;
    };
    let mut operand = std::mem::take(&mut *select.operand);
    instrument(&mut operand);
    let field = std::mem::take(&mut select.field);
    node.expr = call(
        operators::INDEX,
        vec![
            operand,
            synthetic(Expr::Literal(LiteralValue::String(CelString::from(field)))),
        ],
    );
}

/// Whether the rewritten `node` still names `event` itself, which evaluating
/// it then needs bound.
pub fn mentions_event(node: &IdedExpr) -> bool {
    match &node.expr {
        Expr::Ident(name) => name == EVENT,
        Expr::Select(select) => mentions_event(&select.operand),
        Expr::Call(call_expr) => {
            call_expr.target.as_deref().is_some_and(mentions_event)
                || call_expr.args.iter().any(mentions_event)
        }
        Expr::List(list) => list.elements.iter().any(mentions_event),
        Expr::Map(map) => map.entries.iter().any(|entry| match &entry.expr {
            EntryExpr::MapEntry(entry) => {
                mentions_event(&entry.key) || mentions_event(&entry.value)
            }
            EntryExpr::StructField(field) => mentions_event(&field.value),
        }),
        Expr::Comprehension(comprehension) => [
            &comprehension.iter_range,
            &comprehension.accu_init,
            &comprehension.loop_cond,
            &comprehension.loop_step,
            &comprehension.result,
        ]
        .into_iter()
        .any(mentions_event),
        Expr::Struct(structure) => structure.entries.iter().any(|entry| match &entry.expr {
            EntryExpr::MapEntry(entry) => {
                mentions_event(&entry.key) || mentions_event(&entry.value)
            }
            EntryExpr::StructField(field) => mentions_event(&field.value),
        }),
        Expr::Literal(_) | Expr::Unspecified => false,
    }
}

/// Replaces `node` with `@charge(node)`.
fn charge(node: &mut IdedExpr) {
    let inner = std::mem::take(node);
    *node = synthetic(call(CHARGE_FUNCTION, vec![inner]));
}

fn call(function: &str, args: Vec<IdedExpr>) -> Expr {
    Expr::Call(CallExpr {
        func_name: function.to_string(),
        target: None,
        args,
    })
}

/// A node the source has no position for.
fn synthetic(expr: Expr) -> IdedExpr {
    IdedExpr { id: 0, expr }
}
