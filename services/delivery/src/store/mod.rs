//! Every Postgres statement the delivery service runs.
//!
//! - [`jobs`]: the engine's side — claiming a delivery (with its payload and
//!   connection) in one statement, recording an attempt and the delivery's
//!   new state in one transaction, and sweeping for overdue deliveries.
//! - [`history`]: the read side behind `ListDeliveries` and `GetDelivery`.
//!
//! Every statement is scoped by `workspace_id`.

pub mod history;
pub mod jobs;
