//! Backfills: the stored events of a past time range routed through one
//! rule, as if the rule had existed when they arrived.
//!
//! - [`model`]: the stored backfill, its state, its progress (percent and
//!   ETA) and the validated `BackfillRule` request.
//! - [`store`]: the SQL: create (one running backfill per rule), read,
//!   list, cancel, and the worker's lease (claim, release, finish).
//! - [`scan`]: a page of the range's events in id order after the cursor,
//!   and the [`crate::routing::deliver::AlsoCommit`] that advances the
//!   cursor and counters in the transaction that creates the page's
//!   deliveries, only while this process still holds the lease.
//! - [`pace`]: the token bucket that holds a backfill to its rate.
//! - [`worker`]: the loop every router runs: claim a backfill whose lease
//!   is free or expired, route it page by page through the same code as
//!   live routing (`routing::deliver`), so deliveries stay unique per event
//!   and rule and a second backfill of a range creates nothing.

pub mod model;
pub mod pace;
pub mod scan;
pub mod store;
pub mod worker;

pub use model::{BackfillRecord, BackfillState, NewBackfill};
pub use worker::BackfillSettings;
