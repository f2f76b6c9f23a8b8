//! The bounds on expressions: static limits checked when a rule is saved, and
//! the runtime budget of one evaluation.
//!
//! CEL has no loops but the comprehensions its macros expand to (`all`,
//! `exists`, `exists_one`, `map`, `filter`), and no way to build large values
//! but `+` and those comprehensions. So [`super::rewrite`] wraps every
//! comprehension's range and every `+` in a call to [`CHARGE_FUNCTION`], which
//! charges the size of the value passing through (elements of a list or map,
//! bytes of a string, 1 otherwise) against the evaluation's budget and checks
//! its deadline. An expression that exhausts either fails with an error, as a
//! missing field does: its delivery is recorded as failed, the other rules of
//! the event are unaffected. Evaluation also runs on the blocking thread pool
//! (see `routing`), so even the work between two charges never stalls the
//! async runtime.

use std::cell::Cell;
use std::time::{Duration, Instant};

use cel::ExecutionError;
use cel::common::types::CelString;
use cel::common::value::{CowVal, Val};

/// Longest accepted expression source.
pub const MAX_SOURCE_BYTES: usize = 4096;
/// Deepest accepted expression tree (after macro expansion).
pub const MAX_DEPTH: usize = 32;
/// Largest accepted expression tree (after macro expansion).
pub const MAX_NODES: usize = 1000;
/// Comprehensions (`all`, `exists`, `map`, …) inside one another, at most.
pub const MAX_COMPREHENSION_NESTING: usize = 2;
/// Units one evaluation may charge: comprehension iterations plus the
/// elements or bytes every `+` produces.
pub const EVALUATION_BUDGET: u64 = 100_000;
/// Wall-clock time one evaluation may take, from its first charge point
/// (before it, an expression runs a bounded number of nodes).
pub const EVALUATION_DEADLINE: Duration = Duration::from_millis(50);

/// The internal function the rewrite inserts; `@` cannot start a name in CEL
/// source, so no user expression can call it.
pub const CHARGE_FUNCTION: &str = "@charge";

#[derive(Clone, Copy)]
struct Budget {
    remaining: u64,
    /// Set at the first charge: most expressions never reach one, and
    /// reading the clock for each of them is a measurable share of routing.
    deadline: Option<Instant>,
}

thread_local! {
    // Evaluation is synchronous on one thread, so the running evaluation's
    // budget can live here; `cel` function pointers cannot capture state.
    static BUDGET: Cell<Option<Budget>> = const { Cell::new(None) };
}

/// Runs `evaluate` with a fresh budget on this thread.
pub fn with_budget<R>(evaluate: impl FnOnce() -> R) -> R {
    let previous = BUDGET.replace(Some(Budget {
        remaining: EVALUATION_BUDGET,
        deadline: None,
    }));
    let result = evaluate();
    BUDGET.set(previous);
    result
}

/// The cost of a value passing through a charge point.
fn cost(value: &dyn Val) -> u64 {
    if let Some(text) = value.downcast_ref::<CelString<'_>>() {
        return text.inner().len() as u64;
    }
    value
        .as_sizer()
        .and_then(|sizer| u64::try_from(*sizer.size().inner()).ok())
        .unwrap_or(1)
        .max(1)
}

/// The error a charge fails with; [`super::eval`] shows its message alone.
pub fn exhausted(message: String) -> ExecutionError {
    ExecutionError::function_error(CHARGE_FUNCTION, message)
}

/// `@charge(x)`: charges `x` and returns it unchanged.
pub fn charge<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let Some(value) = args.pop() else {
        return Err(ExecutionError::invalid_argument_count(1, 0));
    };
    let Some(mut budget) = BUDGET.get() else {
        // Outside `with_budget` (never in this crate): nothing to charge.
        return Ok(value);
    };
    let cost = cost(value.as_ref());
    if cost > budget.remaining {
        return Err(exhausted(format!(
            "evaluation exceeded its budget of {EVALUATION_BUDGET} units (list elements, iterations and string bytes)"
        )));
    }
    let now = Instant::now();
    let deadline = *budget.deadline.get_or_insert(now + EVALUATION_DEADLINE);
    if now > deadline {
        return Err(exhausted(format!(
            "evaluation exceeded its time limit of {} ms (counted from its first loop or `+`)",
            EVALUATION_DEADLINE.as_millis()
        )));
    }
    budget.remaining -= cost;
    BUDGET.set(Some(budget));
    Ok(value)
}
