//! `ListDeliveries` (every filter optional, newest first, paged) and
//! `GetDelivery`.

use chrono::{DateTime, Utc};
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{ConnectionId, DeliveryId, EventId, WorkspaceId};
use switchyard_core::paging;
use switchyard_core::states::DeliveryStatus;
use switchyard_proto::v1::{
    self as pb, GetDeliveryRequest, GetDeliveryResponse, ListDeliveriesRequest,
    ListDeliveriesResponse,
};

use super::DeliveryApi;
use super::messages::{attempt_message, delivery_message};
use crate::store::history::{self, ListFilter};

impl DeliveryApi {
    pub async fn list(
        &self,
        workspace: WorkspaceId,
        request: ListDeliveriesRequest,
    ) -> ApiResult<ListDeliveriesResponse> {
        let page_size = paging::page_size(request.page_size)?;
        let status = pb::DeliveryStatus::try_from(request.status)
            .map_err(|_| ApiError::invalid("status", "is not a DeliveryStatus"))?;
        let filter = ListFilter {
            event: optional_id(&request.event_id, "event_id", EventId::parse)?,
            // UNSPECIFIED: any status.
            status: DeliveryStatus::try_from(status).ok(),
            connection: optional_id(&request.connection_id, "connection_id", ConnectionId::parse)?,
            since: timestamp(request.since.as_ref(), "since")?,
            until: timestamp(request.until.as_ref(), "until")?,
            before: paging::after(&request.page_token, DeliveryId::parse)?,
            limit: paging::fetch_limit(page_size),
        };
        let mut rows = history::list(&self.pool, workspace, &filter).await?;
        let next_page_token = paging::finish(&mut rows, page_size, |row| row.id);
        Ok(ListDeliveriesResponse {
            deliveries: rows
                .into_iter()
                .map(|row| delivery_message(row, &self.telemetry))
                .collect(),
            next_page_token,
        })
    }

    pub async fn get(
        &self,
        workspace: WorkspaceId,
        request: GetDeliveryRequest,
    ) -> ApiResult<GetDeliveryResponse> {
        let id =
            DeliveryId::parse(&request.id).map_err(|reason| ApiError::invalid("id", reason))?;
        let Some(row) = history::get(&self.pool, workspace, id).await? else {
            return Err(ApiError::not_found(format!("delivery {id} not found")));
        };
        let attempts = history::attempts(&self.pool, workspace, id).await?;
        Ok(GetDeliveryResponse {
            delivery: Some(delivery_message(row, &self.telemetry)),
            attempts: attempts.into_iter().map(attempt_message).collect(),
        })
    }
}

/// An optional id field: empty means absent.
pub fn optional_id<T>(
    text: &str,
    field: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> ApiResult<Option<T>> {
    match text {
        "" => Ok(None),
        text => parse(text)
            .map(Some)
            .map_err(|reason| ApiError::invalid(field, reason)),
    }
}

/// An optional timestamp field.
pub fn timestamp(
    value: Option<&prost_types::Timestamp>,
    field: &str,
) -> ApiResult<Option<DateTime<Utc>>> {
    let Some(value) = value else {
        return Ok(None);
    };
    let nanos =
        u32::try_from(value.nanos).map_err(|_| ApiError::invalid(field, "has negative nanos"))?;
    DateTime::from_timestamp(value.seconds, nanos)
        .map(Some)
        .ok_or_else(|| ApiError::invalid(field, "is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_ids_are_checked() {
        let ok = prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 5,
        };
        assert!(matches!(timestamp(Some(&ok), "since"), Ok(Some(_))));
        assert!(matches!(timestamp(None, "since"), Ok(None)));
        let bad = prost_types::Timestamp {
            seconds: 0,
            nanos: -1,
        };
        assert!(timestamp(Some(&bad), "since").is_err());
        assert!(matches!(
            optional_id("", "event_id", EventId::parse),
            Ok(None)
        ));
        assert!(optional_id("evt_x", "event_id", EventId::parse).is_err());
    }
}
