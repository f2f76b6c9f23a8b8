//! One test binary for the crate's integration tests: each module below
//! was its own binary; linking them once keeps the build small and fast.

mod common;

mod backfill;
mod broker_connections;
mod cache;
mod dryrun;
mod request_preview;
mod routing;
mod rules_api;
mod saas_connections;
