//! Evaluating rules against one event.
//!
//! An [`EventScope`] binds `event` once (see [`super::value`]) and then runs
//! any number of rules against it; each expression runs with its own budget
//! (see [`super::budget`]). A rule's [`Outcome`] is: matched with its body,
//! not matched (the condition was false), or failed with the error of its
//! condition or mapping, which the router records on a failed delivery.

use std::sync::{Arc, LazyLock};

use cel::common::types::{CelBool, CelInt, CelNull, CelString, CelUInt};
use cel::common::value::Val;
use cel::{Context, Env, ExecutionError, Value as CelValue};

use super::budget::{self, CHARGE_FUNCTION};
use super::compile::Program;
use super::value::{EventFields, event_value, field_values};
use super::{body, json, paths};

static ENVIRONMENT: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    // Both declarations are fixed at build time and covered by the unit
    // tests, so failing here is a programming error.
    #[allow(clippy::expect_used)]
    {
        cel::extensions::strings(&mut env).expect("the strings extension declares cleanly");
        env.add_overload(
            CHARGE_FUNCTION,
            "sy_charge",
            vec![cel::common::types::DYN_TYPE],
            budget::charge,
        )
        .expect("@charge is declared once");
    }
    Arc::new(env)
});

/// The CEL environment every expression compiles and runs in.
pub fn environment() -> &'static Arc<Env> {
    &ENVIRONMENT
}

/// A rule's condition and mapping; `None` means empty (always match; send
/// the payload as emitted).
#[derive(Debug, Default, Clone)]
pub struct RuleProgram {
    pub condition: Option<Arc<Program>>,
    pub mapping: Option<Arc<Program>>,
    /// `None`: the rule's deliveries have no ordering key.
    pub ordering_key: Option<Arc<Program>>,
}

impl RuleProgram {
    /// Whether running it needs an evaluation at all.
    pub fn is_trivial(&self) -> bool {
        self.condition.is_none() && self.mapping.is_none() && self.ordering_key.is_none()
    }
}

/// Longest ordering key kept, in bytes; a longer one is refused on the event.
pub const MAX_ORDERING_KEY_BYTES: usize = 256;

/// What one rule does with one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Deliver; `body` is the mapped JSON, `None` for the payload as emitted.
    Matched { body: Option<String> },
    /// The condition was false.
    NotMatched,
    /// The condition or mapping failed on this event.
    Failed { error: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalError {
    /// Failed on this event's data (a missing field, a division by zero, …).
    Runtime(String),
    /// Ran, but yielded what its role cannot use (a non-bool condition, a
    /// mapping result with no JSON form).
    WrongKind(String),
}

impl EvalError {
    pub fn message(&self) -> &str {
        match self {
            Self::Runtime(message) | Self::WrongKind(message) => message,
        }
    }
}

/// Readable text for an evaluation error.
fn describe(error: &ExecutionError) -> String {
    match error {
        ExecutionError::FunctionError { function, message } if function == CHARGE_FUNCTION => {
            message.clone()
        }
        ExecutionError::NoSuchKey(key) => format!("no such key: {key}"),
        ExecutionError::UndeclaredReference(name) => format!("undeclared reference to `{name}`"),
        other => other.to_string(),
    }
}

/// `event` bound for one event: its fields, as the rewritten expressions
/// read them (see [`super::rewrite`]; the payload's paths are answered by
/// [`super::paths`]), and `event` itself for the few expressions that need
/// it, in a scope of their own.
pub struct EventScope<'v> {
    event: &'v EventFields<'v>,
    context: Context<'v, 'v>,
}

impl<'v> EventScope<'v> {
    pub fn new(event: &'v EventFields<'v>) -> Self {
        let mut context = Context::with_env(Arc::clone(environment()));
        for (variable, value) in field_values(event) {
            context.add_variable_as_val(variable, value);
        }
        context.set_variable_resolver(event);
        Self { event, context }
    }

    /// `context` with `event` itself bound.
    fn with_event<'s>(&'s self) -> Context<'s, 'v> {
        let mut context = self.context.new_inner_scope();
        context.add_variable_as_val("event", event_value(self.event));
        context
    }

    /// Runs `evaluate` in the context `program` needs.
    fn in_context<R>(
        &self,
        program: &Program,
        evaluate: impl FnOnce(&Context<'_, 'v>) -> Result<R, ExecutionError>,
    ) -> Result<R, EvalError> {
        let result = if program.needs_event {
            evaluate(&self.with_event())
        } else {
            evaluate(&self.context)
        };
        result.map_err(|error| EvalError::Runtime(self.describe(&error)))
    }

    /// Readable text for an evaluation error. A payload path that led
    /// nowhere is run again the way it reads, for the error that gives (see
    /// [`super::paths`]).
    fn describe(&self, error: &ExecutionError) -> String {
        if let ExecutionError::UndeclaredReference(name) = error
            && let Some((segments, has)) = paths::parse(name)
        {
            let tree = paths::tree(&segments, has);
            if let Err(error) = CelValue::resolve_val(&tree, &self.with_event()) {
                return describe(&error);
            }
        }
        describe(error)
    }

    fn run<R>(
        &self,
        program: &Program,
        use_result: impl FnOnce(&dyn Val) -> Result<R, EvalError>,
    ) -> Result<R, EvalError> {
        budget::with_budget(|| {
            self.in_context(program, |context| {
                CelValue::resolve_val(&program.tree, context)
                    .map(|value| use_result(value.as_ref()))
            })?
        })
    }

    pub fn condition(&self, program: &Program) -> Result<bool, EvalError> {
        self.run(program, |value| {
            value
                .downcast_ref::<CelBool>()
                .map(|boolean| *boolean.inner())
                .ok_or_else(|| {
                    EvalError::WrongKind(format!(
                        "the condition yields a {}, not a bool",
                        value.get_type().name()
                    ))
                })
        })
    }

    /// The mapped body as JSON text (see [`body`] for how literals run).
    pub fn mapping(&self, program: &Program) -> Result<String, EvalError> {
        budget::with_budget(|| {
            self.in_context(program, |context| {
                body::evaluate(&program.tree, context)
                    .map(|shape| json::write_json_text(&shape).map_err(EvalError::WrongKind))
            })?
        })
    }

    /// The ordering key as text: a string as is, a number or bool written
    /// out; `None` for null (the delivery is then not ordered).
    pub fn ordering_key(&self, program: &Program) -> Result<Option<String>, EvalError> {
        let key = self.run(program, |value| {
            if let Some(text) = value.downcast_ref::<CelString<'_>>() {
                return Ok(Some(text.inner().to_string()));
            }
            if let Some(number) = value.downcast_ref::<CelInt>() {
                return Ok(Some(number.inner().to_string()));
            }
            if let Some(number) = value.downcast_ref::<CelUInt>() {
                return Ok(Some(number.inner().to_string()));
            }
            if let Some(boolean) = value.downcast_ref::<CelBool>() {
                return Ok(Some(boolean.inner().to_string()));
            }
            if value.downcast_ref::<CelNull>().is_some() {
                return Ok(None);
            }
            Err(EvalError::WrongKind(format!(
                "the ordering key yields a {}, not a string, int, uint or bool",
                value.get_type().name()
            )))
        })?;
        if let Some(key) = &key
            && key.len() > MAX_ORDERING_KEY_BYTES
        {
            return Err(EvalError::WrongKind(format!(
                "the ordering key is longer than {MAX_ORDERING_KEY_BYTES} bytes"
            )));
        }
        Ok(key)
    }

    /// [`Self::outcome`], and the ordering key of a matched event. A key
    /// that fails makes the rule fail on this event, like its mapping.
    pub fn keyed_outcome(&self, rule: &RuleProgram) -> (Outcome, Option<String>) {
        let outcome = self.outcome(rule);
        let (Outcome::Matched { .. }, Some(program)) = (&outcome, &rule.ordering_key) else {
            return (outcome, None);
        };
        match self.ordering_key(program) {
            Ok(key) => (outcome, key),
            Err(error) => (
                Outcome::Failed {
                    error: format!("ordering_key: {}", error.message()),
                },
                None,
            ),
        }
    }

    /// The condition, then (when it holds) the mapping.
    pub fn outcome(&self, rule: &RuleProgram) -> Outcome {
        if let Some(condition) = &rule.condition {
            match self.condition(condition) {
                Ok(true) => {}
                Ok(false) => return Outcome::NotMatched,
                Err(error) => {
                    return Outcome::Failed {
                        error: format!("condition: {}", error.message()),
                    };
                }
            }
        }
        match &rule.mapping {
            None => Outcome::Matched { body: None },
            Some(mapping) => match self.mapping(mapping) {
                Ok(body) => Outcome::Matched { body: Some(body) },
                Err(error) => Outcome::Failed {
                    error: format!("mapping: {}", error.message()),
                },
            },
        }
    }
}
