//! Rules: which events go to which connection, and with what body.
//!
//! - [`pattern`]: the event type a rule names, exact or a wildcard.
//! - [`model`]: the stored rule and the validated forms of create and
//!   update requests (expressions are compiled there, so an invalid one is
//!   refused before anything is written).
//! - [`store`]: the SQL; every change notifies the routers' rule caches.
//!
//! A rule may only name a live connection of its workspace and, when its
//! event type is exact, a registered type, so a typo is refused at creation
//! instead of silently never firing.

pub mod model;
pub mod pattern;
pub mod store;

pub use model::{NewRule, RulePatch, RuleRecord, RuleSpec};
pub use pattern::EventPattern;
pub use store::{RULES_CHANNEL, RuleFilter};
