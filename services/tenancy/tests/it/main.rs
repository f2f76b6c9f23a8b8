//! One test binary for the crate's integration tests, against a real
//! Postgres (and Redis) per test from `switchyard-testkit`.

mod verification_secrets;
mod workspace;
