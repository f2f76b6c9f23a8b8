//! Ingest's logic, callable in-process; `crate::grpc` only adapts it.
//!
//! - [`emit`]: `EmitEvent` and `EmitEvents`, from the caller's credential to
//!   durable, forwarded events.
//! - [`candidate`]: the checks of one event before anything is stored
//!   (name, size, JSON object, idempotency key).
//! - [`events`]: `ListEvents` and `GetEvent`.

pub mod candidate;
pub mod emit;
pub mod events;
