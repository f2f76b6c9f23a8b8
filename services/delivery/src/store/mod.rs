//! Every Postgres statement the delivery service runs.
//!
//! - [`jobs`]: the engine's side, a batch per statement — claiming
//!   deliveries (with body, connection and policy), recording attempts and
//!   the deliveries' new states, releasing held-back claims — and sweeping
//!   for overdue deliveries.
//! - [`ordering`]: per-key ordering — the claim's "is anything ahead" test
//!   and the hand-over to the next delivery of a key.
//! - [`history`]: the read side behind `ListDeliveries` and `GetDelivery`.
//! - [`replay`]: dead letters made due again (`RetryDelivery`,
//!   `ReplayDeadLetters`).
//! - [`stats`]: attempts per minute and per connection (`GetDeliveryStats`).
//!
//! Every statement is scoped by `workspace_id`.

pub mod history;
pub mod jobs;
pub mod ordering;
pub mod replay;
pub mod stats;
