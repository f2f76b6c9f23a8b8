//! From source text to a [`Program`]: size limit, parse (syntax errors with
//! their `line:col`), the checks of [`super::check`], the rewrite of
//! [`super::rewrite`], then one evaluation against a sample event (an empty
//! payload) that refuses a condition yielding something other than a bool, or
//! a mapping yielding something with no JSON form, whenever the sample
//! reaches that far (errors that depend on the payload, such as a missing
//! field, are expected on an empty payload and ignored).

use std::sync::Arc;

use cel::common::ast::IdedExpr;

use super::budget::MAX_SOURCE_BYTES;
use super::check::{self, Kind};
use super::eval::{self, EvalError};
use super::rewrite;
use super::value::EventFields;

/// Which part of a rule an expression is; also the request field it came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Condition,
    Mapping,
    /// A rule's ordering key: deliveries with the same key to an ordered
    /// connection go one at a time, in event order.
    OrderingKey,
}

impl Role {
    pub fn field(self) -> &'static str {
        match self {
            Self::Condition => "condition",
            Self::Mapping => "mapping",
            Self::OrderingKey => "ordering_key",
        }
    }
}

/// A compiled, checked and instrumented expression.
#[derive(Debug)]
pub struct Program {
    pub role: Role,
    pub source: String,
    pub(super) tree: IdedExpr,
    /// Whether `tree` names `event` itself, beyond the rewritten fields.
    pub(super) needs_event: bool,
}

/// Why an expression was refused: `reason` starts with `line:col: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub role: Role,
    pub reason: String,
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.role.field(), self.reason)
    }
}

/// 1-based line and column of the character at `offset` (a character index,
/// as the parser counts) in `source`.
fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for character in source.chars().take(offset) {
        if character == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

/// Stack for compiling: the parser and the tree walks recurse once per
/// nesting level, and an unchecked 4 KiB source can nest a thousand levels
/// (`1+1+…`), more than a 2 MiB runtime thread holds in a debug build.
const COMPILE_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Compiles `source`; `None` when it is empty (always match / payload as is).
///
/// Runs on a thread of its own with a large stack (see
/// [`COMPILE_STACK_BYTES`]); rules are compiled when saved or first loaded
/// into the cache, so the thread's cost (tens of microseconds) is rare.
pub fn compile(role: Role, source: &str) -> Result<Option<Arc<Program>>, CompileError> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("cel-compile".to_string())
            .stack_size(COMPILE_STACK_BYTES)
            .spawn_scoped(scope, || compile_here(role, source))
            .map_err(|error| CompileError {
                role,
                reason: format!("1:1: could not start the compiler thread: {error}"),
            })?
            .join()
            .unwrap_or_else(|_| {
                Err(CompileError {
                    role,
                    reason: "1:1: the compiler failed on this expression".to_string(),
                })
            })
    })
}

fn compile_here(role: Role, source: &str) -> Result<Option<Arc<Program>>, CompileError> {
    let refuse = |line: usize, column: usize, reason: String| CompileError {
        role,
        reason: format!("{line}:{column}: {reason}"),
    };
    if source.trim().is_empty() {
        return Ok(None);
    }
    if source.len() > MAX_SOURCE_BYTES {
        return Err(refuse(
            1,
            1,
            format!("is longer than {MAX_SOURCE_BYTES} bytes"),
        ));
    }
    let parsed = eval::environment().compile(source).map_err(|errors| {
        let first = errors.errors.first();
        let (line, column) = first
            .map(|error| {
                (
                    usize::try_from(error.pos.0).unwrap_or(1).max(1),
                    usize::try_from(error.pos.1).unwrap_or(1).max(1),
                )
            })
            .unwrap_or((1, 1));
        let message = first.map_or_else(|| "syntax error".to_string(), |e| e.msg.clone());
        refuse(line, column, message)
    })?;
    let position = |node: u64| {
        parsed
            .source_info()
            .offset_for(node)
            .map_or((1, 1), |(start, _)| line_col(source, start as usize))
    };
    let kind = check::check(parsed.expression()).map_err(|finding| {
        let (line, column) = position(finding.node);
        refuse(line, column, finding.reason)
    })?;
    let root = position(parsed.expression().id);
    if role == Role::Condition && !matches!(kind, Kind::Bool | Kind::Dyn) {
        return Err(refuse(
            root.0,
            root.1,
            format!(
                "a condition must yield a bool, but this yields a {}",
                kind.name()
            ),
        ));
    }
    if role == Role::OrderingKey
        && !matches!(
            kind,
            Kind::String
                | Kind::Int
                | Kind::UInt
                | Kind::Bool
                | Kind::Null
                | Kind::NotBool
                | Kind::Dyn
        )
    {
        return Err(refuse(
            root.0,
            root.1,
            format!(
                "an ordering key must yield a string, int, uint or bool, but this yields a {}",
                kind.name()
            ),
        ));
    }
    if role == Role::Mapping && kind == Kind::Type {
        return Err(refuse(
            root.0,
            root.1,
            "a type has no JSON form".to_string(),
        ));
    }
    let mut tree = parsed.expression().clone();
    rewrite::instrument(&mut tree);
    let program = Program {
        role,
        source: source.to_string(),
        needs_event: rewrite::mentions_event(&tree),
        tree,
    };
    sample_check(&program).map_err(|reason| refuse(root.0, root.1, reason))?;
    Ok(Some(Arc::new(program)))
}

/// Evaluates against an event with an empty payload; see the module doc.
fn sample_check(program: &Program) -> Result<(), String> {
    let payload = serde_json::json!({});
    let sample = EventFields {
        event_type: "sample.event",
        id: "evt_sample",
        payload: &payload,
        received_at: chrono::Utc::now(),
        schema_version: 1,
    };
    let scope = eval::EventScope::new(&sample);
    let result = match program.role {
        Role::Condition => scope.condition(program).map(|_| ()),
        Role::Mapping => scope.mapping(program).map(|_| ()),
        Role::OrderingKey => scope.ordering_key(program).map(|_| ()),
    };
    match result {
        Err(EvalError::WrongKind(reason)) => Err(format!("on a sample event, {reason}")),
        Ok(()) | Err(EvalError::Runtime(_)) => Ok(()),
    }
}
