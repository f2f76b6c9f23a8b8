//! The `switchyard` command's building blocks, also used by the end-to-end
//! tests.
//!
//! - [`stack`] runs any subset of the four services in one process, each on
//!   its own listener, as separate deployments would; ingest reaches a
//!   registry and router of the same process through [`local`]'s direct
//!   calls, and everything else over gRPC.
//! - [`receiver`] is a small webhook receiver that records every request and
//!   verifies its Standard Webhooks signature (`switchyard receive`, the demo,
//!   and the tests).
//! - [`demo`] walks one event from schema to signed webhook; [`dev_keys`]
//!   gives it (and the in-process bench) a master key kept in `.data/`.
//! - [`cli`] parses the command line; [`commands`] carries it out.

pub mod cli;
pub mod commands;
pub mod demo;
pub mod demo_saas;
pub mod dev_keys;
pub mod local;
pub mod receiver;
pub mod stack;
pub mod standins;
