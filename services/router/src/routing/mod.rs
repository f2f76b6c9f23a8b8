//! Fan-out of one stored event into deliveries, exactly once per (event,
//! rule).
//!
//! - [`route`]: `RouteEvent`: evaluate the event's rules, insert every
//!   delivery in one statement (unique per event and rule, so routing twice
//!   creates nothing), enqueue the new jobs in one pipelined round trip.
//! - [`enqueue`]: the XADD pipeline and the `enqueued_at` stamp.
//! - [`repair`]: the loop that enqueues deliveries committed without their
//!   job (a crash between commit and enqueue).

pub mod enqueue;
pub mod repair;
pub mod route;

pub use repair::RepairSettings;
pub use route::{RouteOutcome, route_event};
