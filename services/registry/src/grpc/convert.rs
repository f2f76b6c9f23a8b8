//! Domain values to protobuf messages.

use switchyard_core::error::ApiResult;
use switchyard_core::time::to_proto;
use switchyard_proto::v1::{
    CheckCompatibilityResponse, EventType, Incompatibility, SchemaVersion, ValidatePayloadResponse,
    ValidatePayloadsResult, ValidationError, Violation, validate_payloads_result,
};

use crate::api::{CompatibilityReport, Validation};
use crate::canonical;
use crate::store::{EventTypeRecord, VersionRecord};

pub fn to_event_type(record: EventTypeRecord) -> EventType {
    EventType {
        name: record.name,
        description: record.description,
        latest_version: record.latest_version,
        versions: record.versions.into_iter().map(to_schema_version).collect(),
        created_at: Some(to_proto(record.created_at)),
        compatibility: record.compatibility.to_proto().into(),
        deprecated: record.deprecated,
        deprecation_reason: record.deprecation_reason,
        deprecated_at: record.deprecated_at.map(to_proto),
    }
}

pub fn to_schema_version(version: VersionRecord) -> SchemaVersion {
    SchemaVersion {
        version: version.version,
        // Canonical: compact, keys sorted, so equal schemas print equal.
        json_schema: canonical::to_string(&version.json_schema),
        created_at: Some(to_proto(version.created_at)),
    }
}

pub fn to_validation(validation: Validation) -> ValidatePayloadResponse {
    let outcome = validation.outcome;
    ValidatePayloadResponse {
        valid: outcome.is_valid(),
        violations: outcome
            .violations
            .into_iter()
            .map(|violation| Violation {
                instance_path: violation.instance_path,
                schema_path: violation.schema_path,
                message: violation.message,
                keyword: violation.keyword,
            })
            .collect(),
        schema_version: validation.schema_version,
        truncated: outcome.truncated,
        deprecated: validation.deprecated,
    }
}

pub fn to_batch_result(result: ApiResult<Validation>) -> ValidatePayloadsResult {
    let outcome = match result {
        Ok(validation) => validate_payloads_result::Outcome::Validation(to_validation(validation)),
        Err(error) => validate_payloads_result::Outcome::Error(ValidationError {
            code: error.code() as i32,
            message: error.to_string(),
        }),
    };
    ValidatePayloadsResult {
        outcome: Some(outcome),
    }
}

pub fn to_compatibility_response(report: CompatibilityReport) -> CheckCompatibilityResponse {
    CheckCompatibilityResponse {
        compatible: report.incompatibilities.is_empty(),
        incompatibilities: report
            .incompatibilities
            .into_iter()
            .map(|found| Incompatibility {
                path: found.path,
                reason: found.reason,
                version: found.version,
            })
            .collect(),
        compatibility: report.compatibility.to_proto().into(),
        checked_versions: report.checked_versions,
        latest_version: report.latest_version,
        unchanged: report.unchanged,
    }
}
