//! The delivery engine: four loops around one attempt path.
//!
//! Jobs (`{"v":1,"workspace_id":…,"delivery_id":…}`) arrive on the Redis
//! stream described in `switchyard_core::queue`. Every delivery replica
//! joins one consumer group, so each job goes to one replica at a time.
//!
//! - [`consumer`] reads new jobs (`XREADGROUP … >`) and hands each to the
//!   [`dispatch`]er, which runs at most `delivery.max_in_flight` at once. A
//!   lost group (Redis restarted empty, the stream deleted) is recreated.
//! - [`attempt`] is the path of one job: claim the delivery in Postgres
//!   (one statement, also loading payload and connection), [`http`] sends the
//!   signed request, [`retry`] decides *whether* to try again, [`schedule`]
//!   decides *when*, the outcome is recorded in one transaction, and only
//!   then is the job acknowledged (and, for a retry, parked in the delayed
//!   set in the same `MULTI`).
//! - [`scheduler`] moves due retries from the delayed set back to the
//!   stream with one atomic Lua script.
//! - [`reclaim`] takes over jobs another consumer read but never
//!   acknowledged (it crashed) once they have been idle for
//!   `delivery.visibility_timeout`, longer than any request may take.
//! - [`sweeper`] treats Postgres as the truth: deliveries overdue by twice
//!   the visibility timeout get a fresh job, repairing jobs lost between a
//!   commit and a Redis write or to a Redis restart.
//!
//! Duplicated jobs are harmless because the claim only succeeds for a
//! delivery that is due (or whose lease expired). [`queue`] wraps every
//! Redis command the engine sends; [`runner`] wires the loops together and
//! drains in-flight attempts at shutdown.

pub mod attempt;
pub mod consumer;
pub mod dispatch;
pub mod http;
pub mod queue;
pub mod reclaim;
pub mod retry;
pub mod runner;
pub mod schedule;
pub mod scheduler;
pub mod sweeper;
