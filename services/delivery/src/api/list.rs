//! `ListDeliveries` (every filter optional, newest first, paged) and
//! `GetDelivery`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{ConnectionId, DeliveryId, EventId, WorkspaceId};
use switchyard_proto::v1::{
    DeliveryStatus, GetDeliveryRequest, GetDeliveryResponse, ListDeliveriesRequest,
    ListDeliveriesResponse,
};

use super::DeliveryApi;
use super::messages::{attempt_message, delivery_message, status_to_text};
use crate::store::history::{self, ListFilter};

const DEFAULT_PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 500;
/// Marks (and versions) page tokens, so a token from another API is refused.
const PAGE_TOKEN_TAG: &[u8] = b"dl1";

impl DeliveryApi {
    pub async fn list(
        &self,
        workspace: WorkspaceId,
        request: ListDeliveriesRequest,
    ) -> ApiResult<ListDeliveriesResponse> {
        let page_size = match request.page_size {
            0 => DEFAULT_PAGE_SIZE,
            size => size.min(MAX_PAGE_SIZE),
        };
        let status = DeliveryStatus::try_from(request.status)
            .map_err(|_| ApiError::invalid("status", "is not a DeliveryStatus"))?;
        let filter = ListFilter {
            event: optional_id(&request.event_id, "event_id", EventId::parse)?,
            status: status_to_text(status),
            connection: optional_id(&request.connection_id, "connection_id", ConnectionId::parse)?,
            since: timestamp(request.since.as_ref(), "since")?,
            until: timestamp(request.until.as_ref(), "until")?,
            before: match request.page_token.as_str() {
                "" => None,
                token => Some(decode_page_token(token)?),
            },
            // One row more than the page tells whether another page follows.
            limit: i64::from(page_size) + 1,
        };
        let mut rows = history::list(&self.pool, workspace, &filter).await?;
        let page_len = usize::try_from(page_size).unwrap_or(usize::MAX);
        let next_page_token = if rows.len() > page_len {
            rows.truncate(page_len);
            rows.last()
                .map(|row| encode_page_token(row.id))
                .unwrap_or_default()
        } else {
            String::new()
        };
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

fn encode_page_token(last: DeliveryId) -> String {
    let mut bytes = PAGE_TOKEN_TAG.to_vec();
    bytes.extend_from_slice(last.as_uuid().as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

fn decode_page_token(token: &str) -> ApiResult<DeliveryId> {
    let invalid = || ApiError::invalid("page_token", "is not a token returned by ListDeliveries");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let uuid_bytes = bytes.strip_prefix(PAGE_TOKEN_TAG).ok_or_else(invalid)?;
    let uuid = uuid::Uuid::from_slice(uuid_bytes).map_err(|_| invalid())?;
    Ok(DeliveryId(uuid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_garbage_is_refused() {
        let id = DeliveryId::generate();
        assert_eq!(decode_page_token(&encode_page_token(id)).ok(), Some(id));
        for bad in [
            "",
            "abc",
            "!!!",
            &URL_SAFE_NO_PAD.encode(b"xx1aaaaaaaaaaaaaaaa"),
        ] {
            let error = decode_page_token(bad).err().map(|e| e.code());
            assert_eq!(error, Some(tonic::Code::InvalidArgument), "{bad}");
        }
    }

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
