//! The periods of every workspace as of one moment, and the id bounds they
//! give: a UUIDv7 starts with its Unix time in ms, so "older than" is "id
//! below" the lowest id of that moment.

use anyhow::Context;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use switchyard_core::ids::WorkspaceId;
use uuid::Uuid;

/// The period of a workspace with no row (none exists yet): the default.
pub const DEFAULT_DAYS: i32 = 30;

/// One workspace's periods.
#[derive(Clone, Copy, Debug)]
pub struct WorkspacePeriods {
    pub workspace: WorkspaceId,
    pub retention_days: i32,
    pub payload_retention_days: i32,
}

/// Every workspace's periods as of `now`.
#[derive(Clone, Debug)]
pub struct Periods {
    pub now: DateTime<Utc>,
    pub workspaces: Vec<WorkspacePeriods>,
}

impl Periods {
    pub async fn load(
        client: &deadpool_postgres::Object,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Self> {
        let rows = client
            .query(
                "SELECT id, retention_days, COALESCE(payload_retention_days, retention_days) \
                 FROM workspaces ORDER BY id",
                &[],
            )
            .await
            .context("reading workspaces' retention periods")?;
        Ok(Self {
            now,
            workspaces: rows
                .iter()
                .map(|row| WorkspacePeriods {
                    workspace: WorkspaceId(row.get(0)),
                    retention_days: row.get(1),
                    payload_retention_days: row.get(2),
                })
                .collect(),
        })
    }

    /// The longest period of any workspace: whole days older than it hold
    /// nothing any workspace keeps.
    pub fn longest_days(&self) -> i32 {
        self.workspaces
            .iter()
            .map(|w| w.retention_days)
            .max()
            .unwrap_or(DEFAULT_DAYS)
    }

    /// Day partitions of days before this one may be dropped (the whole day
    /// is older than the longest period).
    pub fn droppable_before(&self) -> NaiveDate {
        (self.now - Duration::days(i64::from(self.longest_days()))).date_naive()
    }

    /// The lowest id of the moment `days` before now: rows below it are
    /// older than `days`.
    pub fn cutoff(&self, days: i32) -> Uuid {
        lowest_id_at(self.now - Duration::days(i64::from(days)))
    }
}

/// The lowest UUIDv7 of `at`'s millisecond.
pub fn lowest_id_at(at: DateTime<Utc>) -> Uuid {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &[0; 10]).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cutoff_splits_ids_by_time() {
        let now = Utc::now();
        let periods = Periods {
            now,
            workspaces: Vec::new(),
        };
        let cutoff = periods.cutoff(7);
        let older = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            u64::try_from((now - Duration::days(7) - Duration::seconds(1)).timestamp())
                .expect("after 1970"),
            0,
        ));
        let newer = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            u64::try_from((now - Duration::days(7) + Duration::seconds(1)).timestamp())
                .expect("after 1970"),
            0,
        ));
        assert!(older < cutoff && cutoff < newer);
        assert_eq!(periods.longest_days(), DEFAULT_DAYS);
        assert_eq!(
            periods.droppable_before(),
            (now - Duration::days(30)).date_naive()
        );
    }
}
