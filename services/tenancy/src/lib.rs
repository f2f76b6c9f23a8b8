//! Who may do what, and how much: everything that belongs to a workspace
//! rather than to one service's domain. Every service authenticates its
//! RPCs with [`auth`]; the router and the delivery engine seal and open
//! connection credentials with [`secrets`].
//!
//! - [`auth`]: API keys, machine tokens (JWT) and their verification
//!   secrets, scopes, the access table and the service wrapper that
//!   authenticates every RPC.
//! - [`audit`]: the audit log of admin changes, written in the changing
//!   transaction.
//! - [`secrets`]: connection credentials encrypted at rest (AES-256-GCM
//!   under master keys from the configuration) and their rotation; HS256
//!   verification secrets are sealed with the same keyring (`auth::jwt`).
//! - [`quota`]: enforcing per-workspace quotas: the ingest rate (GCRA in
//!   Redis) and the counts of connections, rules and event types (checked
//!   under the workspace row's lock). Their configuration is
//!   `switchyard_core::quotas`, part of the one typed configuration.
//!
//! Depends on `switchyard-core` only (config, db, ids, errors).

pub mod audit;
pub mod auth;
pub mod quota;
pub mod secrets;
