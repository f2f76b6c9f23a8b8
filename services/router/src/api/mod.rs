//! The router's logic, one module per resource, callable in-process (the
//! gRPC adapter in `crate::grpc` and the tests call the same functions).
//!
//! - [`connections`]: create, read, update, pause, resume and delete
//!   destinations of every kind, their policies and signing secrets.
//! - [`rules`]: rules (condition, mappings, ordering key) and their SQL.
//! - [`dryrun`]: `TestRule` and `TestEvent`, without storing anything.
//! - [`audit`]: the audit entry of every connection and rule change.

pub mod audit;
pub mod connections;
pub mod dryrun;
pub mod rules;
