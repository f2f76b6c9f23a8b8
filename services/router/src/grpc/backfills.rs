//! The backfill handlers of `RouterService`: `BackfillRule`,
//! `GetBackfill`, `ListBackfills`, `CancelBackfill`. Each parses and
//! authenticates, calls [`crate::backfill::store`], and converts the
//! record, with its progress, to a message.

use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::BackfillId;
use switchyard_core::{paging, time};
use switchyard_proto::v1 as pb;
use tonic::Request;

use super::messages::parse_rule_id;
use crate::RouterState;
use crate::backfill::{BackfillRecord, BackfillState, NewBackfill, store};

fn parse_backfill_id(text: &str, field: &str) -> ApiResult<BackfillId> {
    BackfillId::parse(text).map_err(|reason| ApiError::invalid(field, reason))
}

fn parse_time(
    time: Option<&prost_types::Timestamp>,
    field: &str,
) -> ApiResult<Option<chrono::DateTime<chrono::Utc>>> {
    time.map(|time| time::from_proto(time).map_err(|reason| ApiError::invalid(field, reason)))
        .transpose()
}

fn state_message(state: BackfillState) -> pb::BackfillState {
    match state {
        BackfillState::Running => pb::BackfillState::Running,
        BackfillState::Completed => pb::BackfillState::Completed,
        BackfillState::Cancelled => pb::BackfillState::Cancelled,
        BackfillState::Failed => pb::BackfillState::Failed,
    }
}

pub fn backfill_message(record: &BackfillRecord) -> pb::Backfill {
    let eta = record
        .eta(chrono::Utc::now())
        .map(|eta| prost_types::Duration {
            seconds: i64::try_from(eta.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(eta.subsec_nanos()).unwrap_or(0),
        });
    pb::Backfill {
        id: record.id.to_string(),
        rule_id: record.rule_id.to_string(),
        from_time: Some(time::to_proto(record.from)),
        to_time: Some(time::to_proto(record.to)),
        rate_per_second: record.rate_per_second,
        state: state_message(record.state).into(),
        events_total: record.events_total,
        events_scanned: record.events_scanned,
        events_matched: record.events_matched,
        deliveries_created: record.deliveries_created,
        deliveries_skipped: record.deliveries_skipped,
        percent: record.percent(),
        eta,
        error: record.error.clone(),
        created_at: Some(time::to_proto(record.created_at)),
        updated_at: Some(time::to_proto(record.updated_at)),
        finished_at: time::to_proto_opt(record.finished_at),
    }
}

impl RouterState {
    pub(super) async fn backfill_rule(
        &self,
        request: Request<pb::BackfillRuleRequest>,
    ) -> ApiResult<pb::Backfill> {
        let workspace = self.workspace(&request).await?;
        let request = request.into_inner();
        let backfill = NewBackfill::parse(
            &request.rule_id,
            parse_time(request.from_time.as_ref(), "from_time")?,
            parse_time(request.to_time.as_ref(), "to_time")?,
            request.rate_per_second,
            chrono::Utc::now(),
        )?;
        let record = store::create(&self.pool, workspace, &backfill).await?;
        tracing::info!(
            workspace = %workspace,
            rule = %record.rule_id,
            backfill = %record.id,
            events = record.events_total,
            "backfill started"
        );
        Ok(backfill_message(&record))
    }

    pub(super) async fn get_backfill(
        &self,
        request: Request<pb::GetBackfillRequest>,
    ) -> ApiResult<pb::Backfill> {
        let workspace = self.workspace(&request).await?;
        let id = parse_backfill_id(&request.get_ref().id, "id")?;
        Ok(backfill_message(
            &store::get(&self.pool, workspace, id).await?,
        ))
    }

    pub(super) async fn list_backfills(
        &self,
        request: Request<pb::ListBackfillsRequest>,
    ) -> ApiResult<pb::ListBackfillsResponse> {
        let workspace = self.workspace(&request).await?;
        let request = request.into_inner();
        let limit = paging::page_size(request.page_size)?;
        let rule = match request.rule_id.as_str() {
            "" => None,
            text => Some(parse_rule_id(text, "rule_id")?),
        };
        let after = paging::after(&request.page_token, BackfillId::parse)?;
        let fetch = paging::fetch_limit(limit);
        let mut records = store::list(&self.pool, workspace, rule, after, fetch).await?;
        Ok(pb::ListBackfillsResponse {
            next_page_token: paging::finish(&mut records, limit, |r| r.id),
            backfills: records.iter().map(backfill_message).collect(),
        })
    }

    pub(super) async fn cancel_backfill(
        &self,
        request: Request<pb::CancelBackfillRequest>,
    ) -> ApiResult<pb::Backfill> {
        let workspace = self.workspace(&request).await?;
        let id = parse_backfill_id(&request.get_ref().id, "id")?;
        let record = store::cancel(&self.pool, workspace, id).await?;
        tracing::info!(workspace = %workspace, backfill = %id, "backfill cancelled");
        Ok(backfill_message(&record))
    }
}
