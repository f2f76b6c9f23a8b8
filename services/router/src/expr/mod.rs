//! Rule expressions: CEL conditions and mappings over `event`.
//!
//! - [`compile`] turns source text into a [`Program`] when a rule is saved
//!   (or loaded into the rule cache): size limit, parse, the static checks of
//!   [`check`], the rewrite of [`rewrite`], and a run against a sample event.
//! - [`eval`] runs programs against one event: [`EventScope`] binds the
//!   event once (see [`value`]; [`paths`] reads the payload as needed) and
//!   gives each rule its [`Outcome`]; [`body`] evaluates a mapping's
//!   literals entry by entry and [`json`] writes the result as the body.
//! - [`budget`] holds the limits, static and at run time, that keep a hostile
//!   rule from stalling the router.

pub mod body;
pub mod budget;
pub mod check;
pub mod compile;
pub mod eval;
pub mod json;
pub mod paths;
pub mod rewrite;
#[cfg(test)]
mod sample;
pub mod value;

#[cfg(test)]
mod tests;

pub use compile::{CompileError, Program, Role, compile};
pub use eval::{EvalError, EventScope, Outcome, RuleProgram};
pub use value::EventFields;

/// Compiles a rule's condition and mapping.
pub fn compile_rule(condition: &str, mapping: &str) -> Result<RuleProgram, CompileError> {
    compile_keyed_rule(condition, mapping, "")
}

/// Compiles a rule's condition, mapping and ordering key.
pub fn compile_keyed_rule(
    condition: &str,
    mapping: &str,
    ordering_key: &str,
) -> Result<RuleProgram, CompileError> {
    Ok(RuleProgram {
        condition: compile(Role::Condition, condition)?,
        mapping: compile(Role::Mapping, mapping)?,
        ordering_key: compile(Role::OrderingKey, ordering_key)?,
    })
}
