//! `GetDeliveryStats`: the workspace's attempts since a time (the last
//! hour by default, at most a day back) per minute by outcome and per
//! connection.

use chrono::{Duration, Utc};
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::WorkspaceId;
use switchyard_core::time::to_proto;
use switchyard_proto::v1::{
    AttemptBucket, AttemptOutcome, ConnectionStats, GetDeliveryStatsRequest,
    GetDeliveryStatsResponse,
};

use super::DeliveryApi;
use super::list::timestamp;
use crate::store::stats;

const DEFAULT_WINDOW: Duration = Duration::hours(1);
const MAX_WINDOW: Duration = Duration::hours(24);

impl DeliveryApi {
    pub async fn stats(
        &self,
        workspace: WorkspaceId,
        request: GetDeliveryStatsRequest,
    ) -> ApiResult<GetDeliveryStatsResponse> {
        let now = Utc::now();
        let since = timestamp(request.since.as_ref(), "since")?.unwrap_or(now - DEFAULT_WINDOW);
        if since < now - MAX_WINDOW {
            return Err(ApiError::invalid("since", "must be at most 24 hours ago"));
        }
        let minutes = stats::per_minute(&self.pool, workspace, since).await?;
        let connections = stats::per_connection(&self.pool, workspace, since).await?;
        Ok(GetDeliveryStatsResponse {
            buckets: minutes
                .into_iter()
                .map(|count| AttemptBucket {
                    minute: Some(to_proto(count.minute)),
                    outcome: outcome_from_text(&count.outcome).into(),
                    count: u32::try_from(count.count).unwrap_or(u32::MAX),
                })
                .collect(),
            connections: connections
                .into_iter()
                .map(|count| ConnectionStats {
                    connection_id: count.connection.to_string(),
                    attempts: u32::try_from(count.attempts).unwrap_or(u32::MAX),
                    succeeded: u32::try_from(count.succeeded).unwrap_or(u32::MAX),
                    mean_duration_ms: whole_ms(count.mean_duration_ms),
                    p95_duration_ms: whole_ms(count.p95_duration_ms),
                })
                .collect(),
            since: Some(to_proto(since)),
        })
    }
}

fn outcome_from_text(text: &str) -> AttemptOutcome {
    match text {
        "succeeded" => AttemptOutcome::Succeeded,
        "failed" => AttemptOutcome::Failed,
        "dead" => AttemptOutcome::Dead,
        _ => AttemptOutcome::Unspecified,
    }
}

/// Milliseconds rounded to a whole number (durations are never negative).
fn whole_ms(ms: f64) -> u32 {
    // The cast saturates; a NaN (no rows) becomes 0.
    ms.round() as u32
}
