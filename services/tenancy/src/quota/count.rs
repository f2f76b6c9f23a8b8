//! Count limits (connections, rules, event types), checked inside the
//! transaction that creates the row. The check first locks the workspace
//! row `FOR NO KEY UPDATE`: concurrent creations in one workspace queue
//! behind each other until the holder commits, and each counts what the
//! ones before it committed. (`NO KEY` leaves the foreign-key checks of
//! other inserts, such as emitted events, unblocked.)

use tokio_postgres::Transaction;

use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::WorkspaceId;
use switchyard_core::quotas::WorkspaceLimits;

/// What a count limit counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counted {
    /// Live (not deleted) connections.
    Connections,
    /// Live (not deleted) rules.
    Rules,
    EventTypes,
}

impl Counted {
    /// The config key of the limit.
    pub fn quota_id(self) -> &'static str {
        match self {
            Self::Connections => "max_connections",
            Self::Rules => "max_rules",
            Self::EventTypes => "max_event_types",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Self::Connections => "connections",
            Self::Rules => "rules",
            Self::EventTypes => "event types",
        }
    }

    fn limit(self, limits: &WorkspaceLimits) -> u32 {
        match self {
            Self::Connections => limits.max_connections,
            Self::Rules => limits.max_rules,
            Self::EventTypes => limits.max_event_types,
        }
    }

    fn count_sql(self) -> &'static str {
        match self {
            Self::Connections => {
                "SELECT count(*) FROM connections WHERE workspace_id = $1 AND deleted_at IS NULL"
            }
            Self::Rules => {
                "SELECT count(*) FROM rules WHERE workspace_id = $1 AND deleted_at IS NULL"
            }
            Self::EventTypes => "SELECT count(*) FROM event_types WHERE workspace_id = $1",
        }
    }
}

/// Locks `workspace`'s row until `transaction` ends and refuses with
/// `ResourceExhausted` when it already holds its limit of `counted`.
pub async fn ensure_room(
    transaction: &Transaction<'_>,
    workspace: WorkspaceId,
    counted: Counted,
    limits: &WorkspaceLimits,
) -> ApiResult<()> {
    lock_workspace(transaction, workspace).await?;
    check_room(transaction, workspace, counted, limits).await
}

/// Locks `workspace`'s row until `transaction` ends: creations that check
/// their count under this lock run one after the other.
pub async fn lock_workspace(
    transaction: &Transaction<'_>,
    workspace: WorkspaceId,
) -> ApiResult<()> {
    let locked = transaction
        .query_opt(
            "SELECT 1 FROM workspaces WHERE id = $1 FOR NO KEY UPDATE",
            &[&workspace.as_uuid()],
        )
        .await?;
    match locked {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found(format!(
            "workspace {workspace} not found"
        ))),
    }
}

/// The count check of [`ensure_room`], for a caller already holding the
/// workspace lock ([`lock_workspace`]).
pub async fn check_room(
    transaction: &Transaction<'_>,
    workspace: WorkspaceId,
    counted: Counted,
    limits: &WorkspaceLimits,
) -> ApiResult<()> {
    let held: i64 = transaction
        .query_one(counted.count_sql(), &[&workspace.as_uuid()])
        .await?
        .get(0);
    let limit = counted.limit(limits);
    if held < i64::from(limit) {
        return Ok(());
    }
    Err(super::exceeded(
        workspace,
        counted.quota_id(),
        i64::from(limit),
        format!(
            "workspace {workspace} has {held} {noun}, its limit ({quota} = {limit}); delete some or ask for a higher limit",
            noun = counted.noun(),
            quota = counted.quota_id(),
        ),
        None,
    ))
}
