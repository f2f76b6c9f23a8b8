//! Ingest's integration tests, one binary: the real registry and ingest on
//! free ports against a fresh database (no router: routing is the outbox's
//! business, and these tests look at what was committed).

mod common;

mod emit_events;
mod events;
mod group_commit;
mod retention;
