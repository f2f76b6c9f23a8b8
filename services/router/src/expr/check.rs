//! What is checked of an expression when a rule is saved, beyond parsing.
//!
//! The `cel` crate parses and evaluates but has no type checker, so this
//! module does the checks the expression tree allows without one:
//!
//! - size: at most [`MAX_DEPTH`] levels and [`MAX_NODES`] nodes, and
//!   comprehensions nested at most [`MAX_COMPREHENSION_NESTING`] deep;
//! - names: the only variable is `event` (besides the loop variables of
//!   `all`/`exists`/`map`/…, which may not shadow it), `event` has only the
//!   fields in [`EVENT_FIELDS`], and every function called is one of
//!   [`FUNCTIONS`]; message literals (`Foo{…}`) are refused;
//! - result kind: a small inference gives each node a [`Kind`] where it is
//!   evident (literals, operators, known functions, `event`'s own fields) and
//!   `dyn` where it depends on the payload; a condition whose kind is known
//!   and not `bool` is refused.
//!
//! `compile` then evaluates the expression against a sample event, which
//! catches what inference cannot see on the paths it takes.

use cel::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue, operators};

use super::budget::{MAX_COMPREHENSION_NESTING, MAX_DEPTH, MAX_NODES};
use super::value::EVENT_FIELDS;

/// The result kind of an expression, as far as it can be told statically.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Int,
    UInt,
    Double,
    String,
    Bytes,
    Null,
    List,
    Map,
    Timestamp,
    Duration,
    Type,
    Optional,
    /// Some value that is certainly not a bool (what arithmetic yields when
    /// its operands' kinds are only known at run time).
    NotBool,
    /// Known only at run time.
    Dyn,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Bool => "bool",
            Self::Int => "int",
            Self::UInt => "uint",
            Self::Double => "double",
            Self::String => "string",
            Self::Bytes => "bytes",
            Self::Null => "null",
            Self::List => "list",
            Self::Map => "map",
            Self::Timestamp => "timestamp",
            Self::Duration => "duration",
            Self::Type => "type",
            Self::Optional => "optional",
            Self::NotBool => "number, string, list or other non-bool value",
            Self::Dyn => "dyn",
        }
    }
}

/// Functions an expression may call (standard library, the `strings`
/// extension without `replace`, whose output is unbounded, and optionals),
/// with their result kind.
pub const FUNCTIONS: &[(&str, Kind)] = &[
    ("size", Kind::Int),
    ("int", Kind::Int),
    ("uint", Kind::UInt),
    ("double", Kind::Double),
    ("string", Kind::String),
    ("bool", Kind::Bool),
    ("bytes", Kind::Bytes),
    ("timestamp", Kind::Timestamp),
    ("duration", Kind::Duration),
    ("type", Kind::Type),
    ("dyn", Kind::Dyn),
    ("contains", Kind::Bool),
    ("startsWith", Kind::Bool),
    ("endsWith", Kind::Bool),
    ("matches", Kind::Bool),
    ("getDate", Kind::Int),
    ("getDayOfMonth", Kind::Int),
    ("getDayOfWeek", Kind::Int),
    ("getDayOfYear", Kind::Int),
    ("getFullYear", Kind::Int),
    ("getHours", Kind::Int),
    ("getMilliseconds", Kind::Int),
    ("getMinutes", Kind::Int),
    ("getMonth", Kind::Int),
    ("getSeconds", Kind::Int),
    ("charAt", Kind::String),
    ("indexOf", Kind::Int),
    ("lastIndexOf", Kind::Int),
    ("lowerAscii", Kind::String),
    ("upperAscii", Kind::String),
    ("trim", Kind::String),
    ("substring", Kind::String),
    ("split", Kind::List),
    ("join", Kind::String),
    ("hasValue", Kind::Bool),
    ("value", Kind::Dyn),
    ("orValue", Kind::Dyn),
    ("or", Kind::Optional),
    ("optional.of", Kind::Optional),
    ("optional.ofNonZeroValue", Kind::Optional),
    ("optional.none", Kind::Optional),
];

/// A problem found, at the node it concerns.
#[derive(Debug)]
pub struct Finding {
    pub node: u64,
    pub reason: String,
}

fn finding(node: &IdedExpr, reason: impl Into<String>) -> Finding {
    Finding {
        node: node.id,
        reason: reason.into(),
    }
}

/// Walks the tree checking names and size; returns the root's kind.
pub fn check(root: &IdedExpr) -> Result<Kind, Finding> {
    let mut walker = Walker {
        scope: Vec::new(),
        nodes: 0,
    };
    walker.kind(root, 1, 0)
}

struct Walker {
    /// Loop variables in scope, innermost last.
    scope: Vec<String>,
    nodes: usize,
}

fn literal_kind(literal: &LiteralValue) -> Kind {
    match literal {
        LiteralValue::Boolean(_) => Kind::Bool,
        LiteralValue::Bytes(_) => Kind::Bytes,
        LiteralValue::Double(_) => Kind::Double,
        LiteralValue::Int(_) => Kind::Int,
        LiteralValue::Null => Kind::Null,
        LiteralValue::String(_) => Kind::String,
        LiteralValue::UInt(_) => Kind::UInt,
    }
}

/// `optional.of(x)` parses as a call of `of` on the name `optional`.
fn qualified_function(target: &IdedExpr, function: &str) -> Option<String> {
    match &target.expr {
        Expr::Ident(namespace) if namespace == "optional" => {
            Some(format!("{namespace}.{function}"))
        }
        _ => None,
    }
}

fn is_operator(function: &str) -> bool {
    function.starts_with('_')
        || function.starts_with('@')
        || function.starts_with('!')
        || function.starts_with('-')
}

impl Walker {
    fn kind(&mut self, node: &IdedExpr, depth: usize, nesting: usize) -> Result<Kind, Finding> {
        self.nodes += 1;
        if depth > MAX_DEPTH {
            return Err(finding(
                node,
                format!("is nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        if self.nodes > MAX_NODES {
            return Err(finding(node, format!("has more than {MAX_NODES} nodes")));
        }
        let next = depth + 1;
        match &node.expr {
            Expr::Literal(literal) => Ok(literal_kind(literal)),
            Expr::Ident(name) => self.ident(node, name),
            Expr::Select(select) => {
                if let Expr::Ident(root) = &select.operand.expr
                    && root == "event"
                    && !self.scope.iter().any(|bound| bound == "event")
                {
                    self.nodes += 1;
                    return event_field(node, &select.field, select.test);
                }
                self.kind(&select.operand, next, nesting)?;
                Ok(if select.test { Kind::Bool } else { Kind::Dyn })
            }
            Expr::List(list) => {
                for element in &list.elements {
                    self.kind(element, next, nesting)?;
                }
                Ok(Kind::List)
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    if let EntryExpr::MapEntry(entry) = &entry.expr {
                        self.kind(&entry.key, next, nesting)?;
                        self.kind(&entry.value, next, nesting)?;
                    }
                }
                Ok(Kind::Map)
            }
            Expr::Struct(_) => Err(finding(node, "message literals are not supported")),
            Expr::Comprehension(comprehension) => {
                if nesting >= MAX_COMPREHENSION_NESTING {
                    return Err(finding(
                        node,
                        format!(
                            "nests comprehensions (all, exists, map, filter) more than {MAX_COMPREHENSION_NESTING} deep"
                        ),
                    ));
                }
                if comprehension.iter_var == "event" {
                    return Err(finding(node, "`event` cannot be a loop variable"));
                }
                self.kind(&comprehension.iter_range, next, nesting)?;
                let accumulator = self.kind(&comprehension.accu_init, next, nesting)?;
                self.scope.push(comprehension.iter_var.clone());
                let inner = (|| {
                    self.kind(&comprehension.loop_cond, next, nesting + 1)?;
                    self.kind(&comprehension.loop_step, next, nesting + 1)?;
                    self.kind(&comprehension.result, next, nesting + 1)
                })();
                self.scope.pop();
                let result = inner?;
                Ok(match &comprehension.result.expr {
                    Expr::Ident(name) if *name == comprehension.accu_var => accumulator,
                    _ => result,
                })
            }
            Expr::Call(call) => {
                let mut argument_kinds = Vec::with_capacity(call.args.len());
                for argument in &call.args {
                    argument_kinds.push(self.kind(argument, next, nesting)?);
                }
                let qualified = call
                    .target
                    .as_deref()
                    .and_then(|target| qualified_function(target, &call.func_name));
                if qualified.is_none()
                    && let Some(target) = &call.target
                {
                    self.kind(target, next, nesting)?;
                }
                let name = qualified.as_deref().unwrap_or(&call.func_name);
                if is_operator(name) {
                    return Ok(operator_kind(name, &argument_kinds));
                }
                FUNCTIONS
                    .iter()
                    .find(|(known, _)| *known == name)
                    .map(|(_, kind)| *kind)
                    .ok_or_else(|| finding(node, format!("unknown function `{name}`")))
            }
            Expr::Unspecified => Err(finding(node, "is incomplete")),
        }
    }

    fn ident(&self, node: &IdedExpr, name: &str) -> Result<Kind, Finding> {
        // `@result` and friends are the accumulators macros introduce.
        if name.starts_with('@') || self.scope.iter().any(|bound| bound == name) {
            return Ok(Kind::Dyn);
        }
        if name == "event" {
            return Ok(Kind::Map);
        }
        Err(finding(
            node,
            format!("undeclared reference to `{name}` (the only variable is `event`)"),
        ))
    }
}

fn event_field(node: &IdedExpr, field: &str, test: bool) -> Result<Kind, Finding> {
    let kind = match field {
        "type" | "id" => Kind::String,
        "payload" => Kind::Map,
        "received_at" => Kind::Timestamp,
        "schema_version" => Kind::Int,
        _ => {
            return Err(finding(
                node,
                format!(
                    "`event` has no field `{field}` (it has {})",
                    EVENT_FIELDS.join(", ")
                ),
            ));
        }
    };
    Ok(if test { Kind::Bool } else { kind })
}

fn operator_kind(operator: &str, arguments: &[Kind]) -> Kind {
    match operator {
        operators::EQUALS
        | operators::NOT_EQUALS
        | operators::LESS
        | operators::LESS_EQUALS
        | operators::GREATER
        | operators::GREATER_EQUALS
        | operators::LOGICAL_AND
        | operators::LOGICAL_OR
        | operators::LOGICAL_NOT
        | operators::IN
        | operators::NOT_STRICTLY_FALSE => Kind::Bool,
        operators::CONDITIONAL => match arguments {
            [_, then, otherwise] if then == otherwise => *then,
            _ => Kind::Dyn,
        },
        operators::NEGATE => match arguments.first() {
            Some(Kind::Dyn) | None => Kind::NotBool,
            Some(kind) => *kind,
        },
        operators::ADD
        | operators::SUBSTRACT
        | operators::MULTIPLY
        | operators::DIVIDE
        | operators::MODULO => match arguments {
            [Kind::Timestamp, Kind::Timestamp] if operator == operators::SUBSTRACT => {
                Kind::Duration
            }
            [Kind::Timestamp, Kind::Duration] | [Kind::Duration, Kind::Timestamp] => {
                Kind::Timestamp
            }
            [left, right] if left == right && *left != Kind::Dyn => *left,
            // No arithmetic operator yields a bool, whatever its operands.
            _ => Kind::NotBool,
        },
        operators::OPT_INDEX | operators::OPT_SELECT => Kind::Optional,
        _ => Kind::Dyn,
    }
}
