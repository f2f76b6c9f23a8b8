//! `ListDeliveries` and `GetDelivery` for an authenticated workspace,
//! independent of gRPC: requests are validated here (a precise
//! `InvalidArgument` per field), rows become protobuf messages, and errors
//! are [`ApiError`]s that the adapter in [`crate::grpc`] turns into statuses.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use deadpool_postgres::Pool;
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{DeliveryId, EventId, WorkspaceId};
use switchyard_core::time::to_proto;
use switchyard_proto::v1::{
    Attempt, Delivery, DeliveryStatus, GetDeliveryRequest, GetDeliveryResponse,
    ListDeliveriesRequest, ListDeliveriesResponse,
};

use crate::store::history::{self, AttemptRow, DeliveryRow};

const DEFAULT_PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 500;
/// Marks (and versions) page tokens, so a token from another API is refused.
const PAGE_TOKEN_TAG: &[u8] = b"dl1";

#[derive(Clone)]
pub struct DeliveryApi {
    pool: Pool,
}

impl DeliveryApi {
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    pub async fn list(
        &self,
        workspace: WorkspaceId,
        request: ListDeliveriesRequest,
    ) -> ApiResult<ListDeliveriesResponse> {
        let event = match request.event_id.as_str() {
            "" => None,
            text => {
                Some(EventId::parse(text).map_err(|reason| ApiError::invalid("event_id", reason))?)
            }
        };
        let before = match request.page_token.as_str() {
            "" => None,
            token => Some(decode_page_token(token)?),
        };
        let page_size = match request.page_size {
            0 => DEFAULT_PAGE_SIZE,
            size => size.min(MAX_PAGE_SIZE),
        };
        // One row more than the page tells whether another page follows.
        let mut rows = history::list(
            &self.pool,
            workspace,
            event,
            before,
            i64::from(page_size) + 1,
        )
        .await?;
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
            deliveries: rows.into_iter().map(delivery_message).collect(),
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
            delivery: Some(delivery_message(row)),
            attempts: attempts.into_iter().map(attempt_message).collect(),
        })
    }
}

fn delivery_message(row: DeliveryRow) -> Delivery {
    let status = status_from_text(&row.status);
    // Only a planned attempt has a meaningful time.
    let next_attempt_at = matches!(status, DeliveryStatus::Pending | DeliveryStatus::Retrying)
        .then(|| to_proto(row.next_attempt_at));
    Delivery {
        id: row.id.to_string(),
        event_id: row.event_id.to_string(),
        connection_id: row.connection_id.to_string(),
        rule_id: row.rule_id.to_string(),
        status: status.into(),
        attempt_count: u32::try_from(row.attempt_count).unwrap_or(0),
        created_at: Some(to_proto(row.created_at)),
        next_attempt_at,
        last_error: row.last_error,
        event_type: row.event_type,
    }
}

fn attempt_message(row: AttemptRow) -> Attempt {
    Attempt {
        attempt: u32::try_from(row.attempt).unwrap_or(0),
        status_code: row
            .status_code
            .and_then(|code| u32::try_from(code).ok())
            .unwrap_or(0),
        error: row.error,
        duration_ms: u32::try_from(row.duration_ms).unwrap_or(0),
        started_at: Some(to_proto(row.started_at)),
        response_snippet: row.response_snippet,
        url: row.url,
    }
}

/// The `deliveries.status` text as the API enum.
pub fn status_from_text(status: &str) -> DeliveryStatus {
    match status {
        "pending" => DeliveryStatus::Pending,
        "delivering" => DeliveryStatus::Delivering,
        "succeeded" => DeliveryStatus::Succeeded,
        "retrying" => DeliveryStatus::Retrying,
        "dead" => DeliveryStatus::Dead,
        _ => DeliveryStatus::Unspecified,
    }
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
    fn maps_every_status() {
        assert_eq!(status_from_text("pending"), DeliveryStatus::Pending);
        assert_eq!(status_from_text("delivering"), DeliveryStatus::Delivering);
        assert_eq!(status_from_text("succeeded"), DeliveryStatus::Succeeded);
        assert_eq!(status_from_text("retrying"), DeliveryStatus::Retrying);
        assert_eq!(status_from_text("dead"), DeliveryStatus::Dead);
        assert_eq!(status_from_text("other"), DeliveryStatus::Unspecified);
    }
}
