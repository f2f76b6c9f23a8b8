//! The checks every event passes before it may join a commit batch, all
//! local and cheap: the type's name, the payload's size against the
//! workspace's limit, that it is a JSON object, and the idempotency key.
//! What passes is a [`Candidate`]; what fails is answered at once with the
//! field at fault.

use serde::de::IgnoredAny;
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::WorkspaceId;
use switchyard_core::names::EventTypeName;
use switchyard_proto::v1 as pb;

const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// An event that passed the local checks, waiting for validation and its
/// commit.
#[derive(Debug)]
pub struct Candidate {
    pub workspace: WorkspaceId,
    pub event_type: EventTypeName,
    /// As asked (0: the latest).
    pub schema_version: u32,
    /// The payload as sent: validated by the registry, stored by Postgres.
    pub payload_json: String,
    pub idempotency_key: Option<String>,
    /// The trace the event was emitted in (its `EmitEvent` span).
    pub traceparent: Option<String>,
}

/// Checks one request of `workspace` whose payload may hold `max_bytes`.
pub fn check(
    workspace: WorkspaceId,
    request: pb::EmitEventRequest,
    max_bytes: usize,
    traceparent: Option<String>,
) -> ApiResult<Candidate> {
    let event_type = EventTypeName::parse(&request.event_type)
        .map_err(|reason| ApiError::invalid("event_type", reason))?;
    if request.payload_json.len() > max_bytes {
        return Err(ApiError::invalid(
            "payload_json",
            format!(
                "is {} bytes, more than this workspace's limit of {max_bytes} bytes (max_payload_bytes)",
                request.payload_json.len()
            ),
        ));
    }
    check_object(&request.payload_json)?;
    let idempotency_key = parse_idempotency_key(&request.idempotency_key)?;
    Ok(Candidate {
        workspace,
        event_type,
        schema_version: request.schema_version,
        payload_json: request.payload_json,
        idempotency_key,
        traceparent,
    })
}

/// Valid JSON whose top level is an object, checked without building it.
fn check_object(payload_json: &str) -> ApiResult<()> {
    serde_json::from_str::<IgnoredAny>(payload_json).map_err(|error| {
        ApiError::invalid("payload_json", format!("is not valid JSON: {error}"))
    })?;
    if !payload_json.trim_start().starts_with('{') {
        return Err(ApiError::invalid("payload_json", "must be a JSON object"));
    }
    Ok(())
}

fn parse_idempotency_key(key: &str) -> ApiResult<Option<String>> {
    if key.is_empty() {
        return Ok(None);
    }
    if key.len() > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(ApiError::invalid(
            "idempotency_key",
            format!("is longer than {MAX_IDEMPOTENCY_KEY_LEN} bytes"),
        ));
    }
    if key.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "idempotency_key",
            "contains control characters",
        ));
    }
    Ok(Some(key.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    fn request(payload: &str) -> pb::EmitEventRequest {
        pb::EmitEventRequest {
            event_type: "lead.created".into(),
            payload_json: payload.into(),
            ..Default::default()
        }
    }

    fn field_of(error: ApiError) -> String {
        match error {
            ApiError::InvalidArgument { field, .. } => field,
            other => panic!("not an invalid argument: {other:?}"),
        }
    }

    #[test]
    fn an_object_passes_and_keeps_its_text() {
        let workspace = WorkspaceId::generate();
        let candidate = check(workspace, request(r#" {"a": [1, 2]}"#), 1024, None).expect("passes");
        assert_eq!(candidate.payload_json, r#" {"a": [1, 2]}"#);
        assert_eq!(candidate.event_type.as_str(), "lead.created");
        assert_eq!(candidate.idempotency_key, None);
    }

    #[test]
    fn each_check_names_its_field() {
        let workspace = WorkspaceId::generate();
        for (payload, field) in [
            ("[1]", "payload_json"),
            ("{", "payload_json"),
            ("12", "payload_json"),
        ] {
            let error = check(workspace, request(payload), 1024, None).expect_err(payload);
            assert_eq!(error.code(), Code::InvalidArgument);
            assert_eq!(field_of(error), field);
        }
        let big = format!(r#"{{"pad": "{}"}}"#, "x".repeat(100));
        let error = check(workspace, request(&big), 50, None).expect_err("too big");
        assert!(error.to_string().contains("limit of 50 bytes"), "{error}");
        let mut bad_type = request("{}");
        bad_type.event_type = "Not A Name".into();
        assert_eq!(
            field_of(check(workspace, bad_type, 1024, None).expect_err("bad type")),
            "event_type"
        );
        let mut bad_key = request("{}");
        bad_key.idempotency_key = "a\nb".into();
        assert_eq!(
            field_of(check(workspace, bad_key, 1024, None).expect_err("bad key")),
            "idempotency_key"
        );
    }
}
