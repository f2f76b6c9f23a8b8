//! Carrying out the command line: [`admin`] commands talk to Postgres or run
//! services; [`client`] commands call the gRPC API with `SWITCHYARD_API_KEY`;
//! [`schema`] is the schema tooling (`switchyard schema push/check/…`);
//! [`rules`] manages rules (`switchyard rules apply/test/…`);
//! [`backfills`] starts and follows backfills (`switchyard rules backfill`,
//! `switchyard backfills get/list/cancel`);
//! [`emit_file`] sends a file of events (`switchyard emit --file`);
//! [`bench`] is the load generator (`switchyard bench`); [`health`] asks a
//! service's gRPC health (`switchyard health`, for container probes).

pub mod admin;
pub mod backfills;
pub mod bench;
pub mod client;
pub mod emit_file;
pub mod health;
pub mod rules;
pub mod schema;
