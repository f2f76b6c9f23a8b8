//! Fan-out of stored events into deliveries, exactly once per (event,
//! rule), many events per round trip.
//!
//! - [`deliver`]: "these events × these rules → deliveries", the one path
//!   that creates deliveries: evaluate, insert every delivery of the batch
//!   in one statement (unique per event and rule, so creating twice
//!   creates nothing), enqueue the new jobs in one pipelined round trip.
//!   Live routing and backfills (`crate::backfill`) both call it.
//! - [`route`]: `RouteEvents` (and `RouteEvent`, a batch of one): read the
//!   events and their rules, deliver, and mark the events routed.
//! - [`enqueue`]: the jobs through the queue's one producer, and the
//!   `enqueued_at` stamp.
//! - [`repair`]: the loop that enqueues deliveries committed without their
//!   job (a crash between commit and enqueue).

pub mod deliver;
pub mod enqueue;
pub mod repair;
pub mod route;

pub use repair::RepairSettings;
pub use route::{EventRef, MAX_BATCH_EVENTS, RouteOutcome, route_event, route_events};
