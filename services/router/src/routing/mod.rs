//! Fan-out of stored events into deliveries, exactly once per (event,
//! rule), many events per round trip.
//!
//! - [`route`]: `RouteEvents` (and `RouteEvent`, a batch of one): evaluate
//!   each event's rules, insert every delivery of the batch in one
//!   statement (unique per event and rule, so routing twice creates
//!   nothing), enqueue the new jobs in one pipelined round trip.
//! - [`enqueue`]: the jobs through the queue's one producer, and the
//!   `enqueued_at` stamp.
//! - [`repair`]: the loop that enqueues deliveries committed without their
//!   job (a crash between commit and enqueue).

pub mod enqueue;
pub mod repair;
pub mod route;

pub use repair::RepairSettings;
pub use route::{EventRef, MAX_BATCH_EVENTS, RouteOutcome, route_event, route_events};
