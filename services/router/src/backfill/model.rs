//! A backfill as stored, its state (mapped to SQL text here and nowhere
//! else), its progress, and the validated form of a `BackfillRule`
//! request.

use std::time::Duration;

use chrono::{DateTime, Utc};
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{BackfillId, EventId, RuleId, WorkspaceId};

/// The fastest a backfill may go, in events per second.
pub const MAX_RATE_PER_SECOND: u32 = 10_000;

/// How far in the future `to_time` may be, for clients whose clock runs a
/// little ahead of ours.
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackfillState {
    Running,
    Completed,
    Cancelled,
    Failed,
}

impl BackfillState {
    pub fn as_sql(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }

    pub fn from_sql(text: &str) -> ApiResult<Self> {
        Ok(match text {
            "running" => Self::Running,
            "completed" => Self::Completed,
            "cancelled" => Self::Cancelled,
            "failed" => Self::Failed,
            other => {
                return Err(ApiError::Internal(anyhow::anyhow!(
                    "unknown backfill state `{other}` in the database"
                )));
            }
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct BackfillRecord {
    pub id: BackfillId,
    pub workspace: WorkspaceId,
    pub rule_id: RuleId,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub rate_per_second: u32,
    pub state: BackfillState,
    /// The last event routed; the next page starts after it.
    pub cursor: Option<EventId>,
    pub events_total: u64,
    pub events_scanned: u64,
    pub events_matched: u64,
    pub deliveries_created: u64,
    pub deliveries_skipped: u64,
    pub error: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl BackfillRecord {
    /// Events scanned of the total counted at the start, 0 to 100 (a
    /// finished backfill is at 100 even when the count was off).
    pub fn percent(&self) -> f64 {
        if self.state == BackfillState::Completed {
            return 100.0;
        }
        if self.events_total == 0 {
            return 0.0;
        }
        let ratio = self.events_scanned as f64 / self.events_total as f64;
        (ratio * 100.0).clamp(0.0, 100.0)
    }

    /// Time left while running: the events left at the pace seen since
    /// the start (the configured rate until anything was scanned), never
    /// faster than the rate.
    pub fn eta(&self, now: DateTime<Utc>) -> Option<Duration> {
        if self.state != BackfillState::Running {
            return None;
        }
        let left = self.events_total.saturating_sub(self.events_scanned) as f64;
        let elapsed = (now - self.created_at).to_std().unwrap_or_default();
        let seen = if self.events_scanned > 0 && !elapsed.is_zero() {
            self.events_scanned as f64 / elapsed.as_secs_f64()
        } else {
            f64::from(self.rate_per_second)
        };
        let pace = seen
            .min(f64::from(self.rate_per_second))
            .max(f64::MIN_POSITIVE);
        Some(Duration::from_secs_f64((left / pace).min(1e9)))
    }
}

/// A validated `BackfillRule`.
#[derive(Clone, Debug, PartialEq)]
pub struct NewBackfill {
    pub rule_id: RuleId,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub rate_per_second: u32,
}

impl NewBackfill {
    /// Checks the fields in request order; the rule itself is checked
    /// against the database by `store::create`.
    pub fn parse(
        rule_id: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        rate_per_second: u32,
        now: DateTime<Utc>,
    ) -> ApiResult<Self> {
        let rule_id =
            RuleId::parse(rule_id).map_err(|reason| ApiError::invalid("rule_id", reason))?;
        let from = from.ok_or_else(|| ApiError::invalid("from_time", "is required"))?;
        let to = to.ok_or_else(|| ApiError::invalid("to_time", "is required"))?;
        if from >= to {
            return Err(ApiError::invalid(
                "from_time",
                format!("must be before to_time ({from} is not before {to})"),
            ));
        }
        let latest = now + chrono::Duration::from_std(CLOCK_SKEW).unwrap_or_default();
        if to > latest {
            return Err(ApiError::invalid(
                "to_time",
                format!(
                    "is in the future ({to}, now is {now}): only past events can be backfilled"
                ),
            ));
        }
        if !(1..=MAX_RATE_PER_SECOND).contains(&rate_per_second) {
            return Err(ApiError::invalid(
                "rate_per_second",
                format!("must be between 1 and {MAX_RATE_PER_SECOND} events per second"),
            ));
        }
        Ok(Self {
            rule_id,
            from,
            to,
            rate_per_second,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).expect("time")
    }

    fn field_of(result: ApiResult<NewBackfill>) -> String {
        match result {
            Err(ApiError::InvalidArgument { field, .. }) => field,
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn requests_are_checked_field_by_field() {
        let rule = RuleId::generate().to_string();
        let now = at(1000);
        let ok = NewBackfill::parse(&rule, Some(at(0)), Some(at(10)), 50, now);
        assert_eq!(ok.map(|b| b.rate_per_second).ok(), Some(50));
        assert_eq!(
            field_of(NewBackfill::parse(
                "con_1",
                Some(at(0)),
                Some(at(10)),
                5,
                now
            )),
            "rule_id"
        );
        assert_eq!(
            field_of(NewBackfill::parse(&rule, None, Some(at(10)), 5, now)),
            "from_time"
        );
        assert_eq!(
            field_of(NewBackfill::parse(&rule, Some(at(0)), None, 5, now)),
            "to_time"
        );
        assert_eq!(
            field_of(NewBackfill::parse(
                &rule,
                Some(at(10)),
                Some(at(10)),
                5,
                now
            )),
            "from_time"
        );
        assert_eq!(
            field_of(NewBackfill::parse(
                &rule,
                Some(at(0)),
                Some(at(2000)),
                5,
                now
            )),
            "to_time"
        );
        assert_eq!(
            field_of(NewBackfill::parse(&rule, Some(at(0)), Some(at(10)), 0, now)),
            "rate_per_second"
        );
        assert_eq!(
            field_of(NewBackfill::parse(
                &rule,
                Some(at(0)),
                Some(at(10)),
                MAX_RATE_PER_SECOND + 1,
                now
            )),
            "rate_per_second"
        );
        // A clock a few seconds ahead of ours is not "the future".
        assert!(NewBackfill::parse(&rule, Some(at(0)), Some(at(1010)), 5, now).is_ok());
    }

    #[test]
    fn progress_reports_percent_and_eta() {
        let mut record = BackfillRecord {
            id: BackfillId::generate(),
            workspace: WorkspaceId::generate(),
            rule_id: RuleId::generate(),
            from: at(0),
            to: at(10),
            rate_per_second: 10,
            state: BackfillState::Running,
            cursor: None,
            events_total: 200,
            events_scanned: 50,
            events_matched: 50,
            deliveries_created: 50,
            deliveries_skipped: 0,
            error: String::new(),
            created_at: at(0),
            updated_at: at(5),
            finished_at: None,
        };
        assert_eq!(record.percent(), 25.0);
        // 50 in 10 s is 5/s, slower than the rate of 10/s: 150 left take 30 s.
        assert_eq!(record.eta(at(10)), Some(Duration::from_secs(30)));
        record.state = BackfillState::Completed;
        assert_eq!(record.percent(), 100.0);
        assert_eq!(record.eta(at(10)), None);
    }
}
