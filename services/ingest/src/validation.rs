//! Asking the registry whether payloads match their event type's schema, a
//! batch at a time. [`PayloadValidator`] is the seam: [`GrpcValidator`]
//! calls `ValidatePayloads` with the emitting caller's own credentials,
//! and a process that hosts the registry too plugs in a direct call
//! instead; [`validate`] chunks a batch to the registry's limits and reads
//! the answers the same way for both.
//!
//! Each payload gets its own answer: the version it matched (and whether
//! its type is deprecated), its violations as `InvalidArgument` with
//! `payload_json/<path>` fields, or the error the registry gave it (an
//! unknown type, an unknown version). A failure of the call itself (the
//! registry unreachable) is the batch's error.

use futures::future::try_join_all;
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::WorkspaceId;
use switchyard_core::names::EventTypeName;
use switchyard_core::telemetry::propagation::TracedChannel;
use switchyard_proto::v1 as pb;
use switchyard_proto::v1::registry_service_client::RegistryServiceClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::{Code, Request, Status};
use tonic_types::FieldViolation;

/// Payloads per `ValidatePayloads` call at most (the registry's limit).
pub const MAX_CALL_PAYLOADS: usize = 1000;
/// Bytes of `payload_json` per call at most (the registry's limit).
pub const MAX_CALL_BYTES: usize = 2 * 1024 * 1024;

/// One payload to check.
#[derive(Clone, Debug)]
pub struct PayloadCheck<'a> {
    pub event_type: &'a EventTypeName,
    pub schema_version: u32,
    pub payload_json: &'a str,
}

/// Whose payloads they are: the workspace the caller was authenticated to,
/// and the credentials it called with (which the registry checks again
/// when called over gRPC).
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    pub workspace: WorkspaceId,
    pub authorization: Option<&'a MetadataValue<Ascii>>,
}

/// A payload that matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validated {
    pub schema_version: u32,
    pub deprecated: bool,
}

/// The registry as ingest calls it; [`validate`] chunks a batch to the
/// registry's limits and reads the answers, whichever implementation
/// carries them.
#[tonic::async_trait]
pub trait PayloadValidator: Send + Sync + 'static {
    /// `ValidatePayloads` for the caller's workspace: one result per
    /// payload, in order. `payloads` is within [`MAX_CALL_PAYLOADS`] and
    /// [`MAX_CALL_BYTES`], or is one payload larger than that (checked as
    /// `ValidatePayload` would).
    async fn validate_chunk(
        &self,
        caller: Caller<'_>,
        payloads: &[PayloadCheck<'_>],
    ) -> ApiResult<Vec<ApiResult<pb::ValidatePayloadResponse>>>;
}

/// One result per payload, in order: the version it matched, its
/// violations, or the registry's error for it. A failed call is the
/// batch's error.
pub async fn validate(
    validator: &dyn PayloadValidator,
    caller: Caller<'_>,
    payloads: &[PayloadCheck<'_>],
) -> ApiResult<Vec<ApiResult<Validated>>> {
    let ranges = chunks(payloads);
    let answers = try_join_all(
        ranges
            .iter()
            .map(|range| validator.validate_chunk(caller, &payloads[range.clone()])),
    )
    .await?;
    Ok(answers
        .into_iter()
        .flatten()
        .zip(payloads)
        .map(|(answer, payload)| {
            let response = answer?;
            if response.valid {
                Ok(Validated {
                    schema_version: response.schema_version,
                    deprecated: response.deprecated,
                })
            } else {
                Err(violations_error(payload.event_type, &response))
            }
        })
        .collect())
}

/// The registry over gRPC.
#[derive(Clone)]
pub struct GrpcValidator {
    registry: RegistryServiceClient<TracedChannel>,
}

impl GrpcValidator {
    pub fn new(registry: RegistryServiceClient<TracedChannel>) -> Self {
        Self { registry }
    }
}

#[tonic::async_trait]
impl PayloadValidator for GrpcValidator {
    async fn validate_chunk(
        &self,
        caller: Caller<'_>,
        payloads: &[PayloadCheck<'_>],
    ) -> ApiResult<Vec<ApiResult<pb::ValidatePayloadResponse>>> {
        let request = |payload: &PayloadCheck<'_>| pb::ValidatePayloadRequest {
            event_type: payload.event_type.to_string(),
            schema_version: payload.schema_version,
            payload_json: payload.payload_json.to_string(),
        };
        let authorize = |metadata: &mut tonic::metadata::MetadataMap| {
            if let Some(authorization) = caller.authorization {
                metadata.insert("authorization", authorization.clone());
            }
        };
        if let [giant] = payloads
            && giant.payload_json.len() > MAX_CALL_BYTES
        {
            let mut call = Request::new(request(giant));
            authorize(call.metadata_mut());
            return match self.registry.clone().validate_payload(call).await {
                Ok(response) => Ok(vec![Ok(response.into_inner())]),
                // Unreachable fails the batch; any other answer is the
                // payload's own.
                Err(status) => match registry_error(status) {
                    outage @ ApiError::Unavailable(_) => Err(outage),
                    refusal => Ok(vec![Err(refusal)]),
                },
            };
        }
        let mut call = Request::new(pb::ValidatePayloadsRequest {
            payloads: payloads.iter().map(request).collect(),
        });
        authorize(call.metadata_mut());
        let response = self
            .registry
            .clone()
            .validate_payloads(call)
            .await
            .map_err(registry_error)?
            .into_inner();
        if response.results.len() != payloads.len() {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "the registry answered {} results for {} payloads",
                response.results.len(),
                payloads.len()
            )));
        }
        Ok(response
            .results
            .into_iter()
            .map(|result| match result.outcome {
                Some(pb::validate_payloads_result::Outcome::Validation(validation)) => {
                    Ok(validation)
                }
                Some(pb::validate_payloads_result::Outcome::Error(error)) => Err(
                    ApiError::Upstream(Status::new(Code::from(error.code), error.message)),
                ),
                None => Err(ApiError::Internal(anyhow::anyhow!(
                    "the registry answered an empty result"
                ))),
            })
            .collect())
    }
}

/// Consecutive ranges within the registry's per-call limits; a payload
/// larger than the byte limit alone goes in a call of its own (the
/// registry accepts one such payload per call).
fn chunks(payloads: &[PayloadCheck<'_>]) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (index, payload) in payloads.iter().enumerate() {
        let size = payload.payload_json.len();
        let full = index - start >= MAX_CALL_PAYLOADS || bytes + size > MAX_CALL_BYTES;
        if full && index > start {
            ranges.push(start..index);
            (start, bytes) = (index, 0);
        }
        bytes += size;
    }
    if start < payloads.len() {
        ranges.push(start..payloads.len());
    }
    ranges
}

/// A failed registry call: unreachable is `Unavailable` (the event was not
/// stored), any other status is passed on.
pub fn registry_error(status: Status) -> ApiError {
    ApiError::upstream("the schema registry", status)
}

pub fn violations_error(
    event_type: &EventTypeName,
    response: &pb::ValidatePayloadResponse,
) -> ApiError {
    let listed: Vec<String> = response
        .violations
        .iter()
        .map(|v| format!("{}: {}", display_pointer(&v.instance_path), v.message))
        .collect();
    let more = if response.truncated {
        " (and more)"
    } else {
        ""
    };
    ApiError::Violations {
        summary: format!(
            "payload_json does not match version {} of `{event_type}`: {}{more}",
            response.schema_version,
            listed.join("; ")
        ),
        violations: response
            .violations
            .iter()
            .map(|v| {
                FieldViolation::new(
                    format!("payload_json{}", v.instance_path),
                    format!(
                        "{} (keyword `{}` at {})",
                        v.message,
                        v.keyword,
                        display_pointer(&v.schema_path)
                    ),
                )
            })
            .collect(),
    }
}

fn display_pointer(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_count_and_bytes_and_isolate_giants() {
        let name = EventTypeName::parse("a.b").expect("name");
        let small = "x".repeat(10);
        let giant = "x".repeat(MAX_CALL_BYTES + 1);
        let check = |payload: &'static str| PayloadCheck {
            event_type: &name,
            schema_version: 0,
            payload_json: payload,
        };
        let small: &'static str = Box::leak(small.into_boxed_str());
        let giant: &'static str = Box::leak(giant.into_boxed_str());
        let many: Vec<_> = (0..2500).map(|_| check(small)).collect();
        assert_eq!(chunks(&many), vec![0..1000, 1000..2000, 2000..2500]);
        let mixed = vec![check(small), check(giant), check(small)];
        assert_eq!(chunks(&mixed), vec![0..1, 1..2, 2..3]);
        assert!(chunks(&[]).is_empty());
    }
}
