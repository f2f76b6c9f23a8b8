//! Schema compatibility: may a new schema version replace the earlier ones
//! under an event type's [`Mode`]?
//!
//! Compatibility is about *readers* and *writers*: a reader schema reads a
//! writer schema when every payload valid against the writer is valid against
//! the reader. BACKWARD asks whether the new schema reads what the latest
//! version wrote (consumers upgrade first); FORWARD whether the latest version
//! reads what the new schema writes (producers upgrade first); FULL asks both;
//! the `_TRANSITIVE` modes ask it of every earlier version, not only the
//! latest; NONE asks nothing.
//!
//! How the parts fit:
//! - [`check`](fn@check) runs the mode's directions against the right versions
//!   and collects [`Incompatibility`]s (version, JSON pointer, reason).
//! - `walk` compares one writer node with one reader node, recursively: it
//!   follows local `$ref`s on both sides (`document`), guards cycles, and
//!   dispatches to `types`, `bounds` (numbers, strings, counts), `object`,
//!   `array` and `applicator`; `values` checks writers with `enum`/`const`
//!   exactly, by validation; `same` decides structural sameness for the
//!   keywords only accepted unchanged.
//! - Reasons are worded as the change from the old schema to the new one,
//!   whichever side reads: `/properties/email: became required` (BACKWARD) and
//!   `/properties/email: is no longer required` (FORWARD) are one rule.
//!
//! The checker proves containment structurally and errs on the safe side:
//! anything it cannot prove is reported, with a reason starting
//! `cannot prove compatible:`, never silently passed. Constraints it ignores
//! are only ever the *writer's* (a writer taken as accepting more is a harder
//! test for the reader). Paths follow the properties a node describes, through
//! `$ref`s, so `/properties/total/properties/cents/type` names a field even
//! when `total` is a `$ref` into `$defs`.
//!
//! # Rules
//!
//! "Old → new" is the change; ✓ compatible, ✗ reported. FULL reports the
//! union of both columns; NONE reports nothing.
//!
//! | change (old → new) | BACKWARD | FORWARD | reported as |
//! | --- | --- | --- | --- |
//! | property added to an **open** model (old allows any extra property) with constraints | ✗ | ✓ | `/properties/p: added to an open content model: …` |
//! | property added with no constraints (`{}`, `true`) | ✓ | ✓ | |
//! | property added to a **closed** model (old `additionalProperties`/`unevaluatedProperties: false`) | ✓ | ✗ | `/properties/p: added, but the old content model is closed` |
//! | property removed, new model open | ✓ | ✗ | `/properties/p: removed from an open content model: …` |
//! | property removed, new model closed | ✗ | ✓ | `/properties/p: removed from a closed content model` |
//! | `additionalProperties` open → `false` | ✗ | ✓ | `/additionalProperties: closed` |
//! | `additionalProperties` `false` → open | ✓ | ✗ | `/additionalProperties: opened` |
//! | `additionalProperties`, `patternProperties`, `propertyNames` schemas | recurse | recurse | at `/additionalProperties/…`; added or removed patterns alongside others: cannot prove |
//! | name added to `required` | ✗ | ✓ | `/properties/p: became required` |
//! | name removed from `required` | ✓ | ✗ | `/properties/p: is no longer required` |
//! | `type` narrowed (`number` → `integer`, `[string, null]` → `string`, none → `string`) | ✗ | ✓ | `/type: narrowed from number to integer` |
//! | `type` widened (`integer` ⊂ `number`) | ✓ | ✗ | `/type: widened from integer to number` |
//! | `enum` value removed, `const` changed | ✗ | ✓ | `/enum: value "x" removed` |
//! | `enum` value added | ✓ | ✗ | `/enum: value "x" added` |
//! | `enum`/`const` added | ✗ | ✓ | `/enum: added: only … accepted now` |
//! | `enum`/`const` removed | ✓ | ✗ | `/enum: removed: …` |
//! | `minimum`, `exclusiveMinimum`, `maximum`, `exclusiveMaximum` tightened or added | ✗ | ✓ | `/minimum: tightened from 0 to 5`, `/maximum: added (10)` |
//! | … loosened or removed | ✓ | ✗ | `/minimum: loosened from 5 to 0`, `/maximum: removed (was 10)` |
//! | `multipleOf`: new a multiple of old (2 → 4) | ✗ | ✓ | `/multipleOf: changed from 2 to 4` (integers count as `multipleOf: 1`) |
//! | `minLength`/`maxLength`, `minItems`/`maxItems`, `minProperties`/`maxProperties` tightened or added | ✗ | ✓ | `/maxLength: tightened from 100 to 50` |
//! | … loosened or removed | ✓ | ✗ | `/maxLength: loosened from 50 to 100` |
//! | `pattern` or `format` added | ✗ | ✓ | `/pattern: added ^[a-z]+$` |
//! | `pattern` or `format` removed | ✓ | ✗ | `/format: removed (was email)` |
//! | `pattern` or `format` changed | ✗ | ✗ | `/pattern: cannot prove compatible: changed from … to …` |
//! | `items` / `prefixItems` (draft-07: array `items`, `additionalItems`) | recurse | recurse | at `/items/…`, `/prefixItems/0/…` |
//! | `uniqueItems` added / removed | ✗ / ✓ | ✓ / ✗ | `/uniqueItems: added` |
//! | nested objects and arrays | recurse | recurse | every rule applies at every depth |
//! | local `$ref` (`#/$defs/…`, `#/definitions/…`, `#anchor`) | followed | followed | a pair already being compared is assumed compatible, so recursive schemas end |
//! | `allOf` on the reader | each branch | each branch | |
//! | `anyOf` on the reader | some branch must read each writer branch | same | else `cannot prove compatible` |
//! | `oneOf`, `not`, `if`/`then`/`else`, `dependentRequired`, `dependentSchemas`, `dependencies`, `contains`, `unevaluatedItems`, `$dynamicRef` | identical (after following `$ref`s) | identical | else `cannot prove compatible: \`oneOf\` changed` |
//! | the writer has `enum`/`const` (or only `null`/`boolean` types) | values checked | values checked | each value is validated against the reader: exact |
//! | annotations (`title`, `description`, `default`, `examples`, `deprecated`, …) | ✓ | ✓ | |
//! | remote or unresolvable `$ref`, nested `$id`s | ✗ | ✗ | `cannot prove compatible: …` |

mod applicator;
mod array;
mod bounds;
mod check;
mod document;
mod mode;
mod object;
mod same;
mod types;
mod values;
mod walk;

pub use check::{Finding, Incompatibility, check, compare};
pub use mode::Mode;
