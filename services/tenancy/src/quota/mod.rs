//! Per-workspace quotas: how fast a workspace may emit, how large one
//! payload may be, and how many connections, rules and event types it may
//! hold.
//!
//! The limits themselves are configuration: `switchyard_core::quotas` (the
//! `[quotas]` section, and `Quotas`, which resolves one workspace's
//! `WorkspaceLimits`).
//! - [`rate`]: the ingest rate, a GCRA in one Redis key per workspace
//!   (`<prefix>:{ws_…}:ingest_rate`) updated by a Lua script on Redis's own
//!   clock, so every ingest replica draws from the same allowance.
//! - [`count`]: the count limits, checked inside the creating transaction
//!   after locking the workspace row, so two concurrent creations cannot
//!   both take the last slot.
//! - [`exceeded`] builds the `ResourceExhausted` error every refusal
//!   returns (a `google.rpc.QuotaFailure`, plus `RetryInfo` when waiting
//!   helps).

pub mod count;
pub mod rate;

use std::time::Duration;

use tonic_types::QuotaViolation;

use switchyard_core::error::ApiError;
use switchyard_core::ids::WorkspaceId;

pub use count::Counted;
pub use rate::IngestRateLimiter;

/// The `ResourceExhausted` refusal of `workspace` breaking the quota
/// `quota_id` (a config key, e.g. `max_rules`) whose value is `limit`.
pub fn exceeded(
    workspace: WorkspaceId,
    quota_id: &str,
    limit: i64,
    description: String,
    retry_after: Option<Duration>,
) -> ApiError {
    let mut violation = QuotaViolation::new(format!("workspace:{workspace}"), description.clone());
    violation.quota_id = quota_id.to_string();
    violation.quota_metric = format!("switchyard.quotas.{quota_id}");
    violation.quota_value = limit;
    violation
        .quota_dimensions
        .insert("workspace".to_string(), workspace.to_string());
    ApiError::ResourceExhausted {
        summary: description,
        retry_after,
        violations: vec![violation],
    }
}
