//! The delivery engine: four loops around one attempt path.
//!
//! Jobs (`{"v":1,"workspace_id":…,"delivery_id":…}`, see [`job`]) arrive on
//! the Redis stream described in `switchyard_delivery_model::queue`. Every delivery
//! replica joins one consumer group, so each job goes to one replica at a
//! time.
//!
//! - [`consumer`] reads new jobs (`XREADGROUP … >`, up to 64 per read) and
//!   hands each to the [`dispatch`]er, which runs at most
//!   `delivery.max_in_flight` at once.
//! - [`attempt`] is the path of one job: claim the delivery in Postgres
//!   (also loading its body, connection and [`policy`]), pass the [`gate`]
//!   (circuit breaker → concurrency cap → rate limit, shared by replicas in
//!   Redis, plus a per-connection cap inside this process), open the
//!   connection's [`credentials`] (decrypted only for the attempt), let
//!   [`http`] send the signed request, let [`outcome`] decide the next state —
//!   [`retry`] says *whether* to try again, [`schedule`] says *when* —
//!   record it, and only then acknowledge the job (a retry or a held-back
//!   job is parked in the delayed set in the same `MULTI`).
//! - [`writers`] batch those round trips (`switchyard_core::batch`: group commit), so
//!   claims, records and acknowledgements cost one statement per batch,
//!   not per job.
//! - [`waiting`] sets aside the jobs of a connection already at its
//!   in-process cap, in its own list, until one of its attempts ends and
//!   takes the next one over — so a slow destination's backlog never
//!   cycles through the stream the healthy ones share.
//! - [`scheduler`] moves due jobs from the delayed set back to the stream
//!   with one atomic Lua script.
//! - [`reclaim`] takes over jobs another consumer read but never
//!   acknowledged (it crashed) once they have been idle for
//!   `delivery.visibility_timeout`, longer than any request may take.
//! - [`sweeper`] treats Postgres as the truth: deliveries overdue by twice
//!   the visibility timeout get a fresh job, repairing jobs lost between a
//!   commit and a Redis write.
//! - [`recovery`] handles Redis losing its data: the group is recreated at
//!   once and every unfinished delivery re-enqueued from Postgres.
//!
//! - [`observe`] gives each attempt its span in the event's trace and
//!   counts deliveries; [`gauges`] samples the queue's depths for metrics.
//!
//! - [`handback`] gives back, at a stop, what this process still holds:
//!   claims of attempts cut at the end of `delivery.shutdown_grace`, jobs
//!   taken off waiting lists and entries pending for its consumer, which it
//!   then removes from the group; [`departed`] removes the consumers of
//!   processes that died, once their entries were reclaimed.
//!
//! Every loop is safe in any number of replicas without electing one:
//! reads and reclaims go through the consumer group (`XREADGROUP`,
//! `XAUTOCLAIM` give an entry to one consumer), the scheduler's and the
//! rescue's moves are single Lua scripts, the sweeper locks its rows with
//! `FOR UPDATE SKIP LOCKED` and stamps them, limits and breakers live in
//! Redis, and the claim in Postgres lets one attempt through per delivery.
//!
//! Duplicated jobs are harmless because the claim only succeeds for a
//! delivery that is due (or whose lease expired). [`queue`] wraps every
//! Redis command of the stream; [`runner`] wires the loops together and
//! drains in-flight attempts at shutdown.

pub mod attempt;
pub mod consumer;
pub mod credentials;
pub mod departed;
pub mod dispatch;
pub mod gate;
pub mod gauges;
pub mod handback;
pub mod http;
pub mod job;
pub mod observe;
pub mod outcome;
pub mod policy;
pub mod queue;
pub mod reclaim;
pub mod recovery;
pub mod retry;
pub mod runner;
pub mod schedule;
pub mod scheduler;
pub mod sweeper;
pub mod waiting;
pub mod writers;
