//! The error every service handler returns, and the one table that maps it
//! to a gRPC status. Callers' mistakes carry a precise message (and, for
//! invalid arguments, `google.rpc.BadRequest` field violations SDKs can show;
//! for exhausted quotas, `google.rpc.QuotaFailure` and, when waiting helps,
//! `google.rpc.RetryInfo`); our own failures become an opaque `Internal`
//! and are logged in full.

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, PreconditionViolation, QuotaViolation, StatusExt};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// One request field is wrong.
    #[error("{field}: {reason}")]
    InvalidArgument { field: String, reason: String },
    /// Several fields (or payload paths) are wrong at once.
    #[error("{summary}")]
    Violations {
        summary: String,
        violations: Vec<FieldViolation>,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    FailedPrecondition(String),
    /// The resource's state refuses the request in several listed ways (e.g.
    /// a schema breaking its event type's compatibility mode); each becomes a
    /// `google.rpc.PreconditionFailure` violation.
    #[error("{summary}")]
    Preconditions {
        summary: String,
        violations: Vec<PreconditionViolation>,
    },
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Unavailable(String),
    /// A workspace quota is used up (see `crate::quota::exceeded`); each
    /// violation becomes a `google.rpc.QuotaFailure` entry, and
    /// `retry_after` a `google.rpc.RetryInfo`.
    #[error("{summary}")]
    ResourceExhausted {
        summary: String,
        retry_after: Option<Duration>,
        violations: Vec<QuotaViolation>,
    },
    /// A status received from another Switchyard service, passed on as is.
    #[error("{}", .0.message())]
    Upstream(Status),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }

    pub fn code(&self) -> Code {
        match self {
            Self::InvalidArgument { .. } | Self::Violations { .. } => Code::InvalidArgument,
            Self::NotFound(_) => Code::NotFound,
            Self::AlreadyExists(_) => Code::AlreadyExists,
            Self::FailedPrecondition(_) | Self::Preconditions { .. } => Code::FailedPrecondition,
            Self::Unauthenticated(_) => Code::Unauthenticated,
            Self::PermissionDenied(_) => Code::PermissionDenied,
            Self::Unavailable(_) => Code::Unavailable,
            Self::ResourceExhausted { .. } => Code::ResourceExhausted,
            Self::Upstream(status) => status.code(),
            Self::Internal(_) => Code::Internal,
        }
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(error: tokio_postgres::Error) -> Self {
        Self::Internal(anyhow::Error::new(error).context("postgres"))
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        Self::Internal(anyhow::Error::new(error).context("postgres pool"))
    }
}

impl From<redis::RedisError> for ApiError {
    fn from(error: redis::RedisError) -> Self {
        Self::Internal(anyhow::Error::new(error).context("redis"))
    }
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::InvalidArgument { field, reason } => Status::with_error_details(
                Code::InvalidArgument,
                format!("{field}: {reason}"),
                ErrorDetails::with_bad_request(vec![FieldViolation::new(field, reason)]),
            ),
            ApiError::Violations {
                summary,
                violations,
            } => Status::with_error_details(
                Code::InvalidArgument,
                summary,
                ErrorDetails::with_bad_request(violations),
            ),
            ApiError::Preconditions {
                summary,
                violations,
            } => Status::with_error_details(
                Code::FailedPrecondition,
                summary,
                ErrorDetails::with_precondition_failure(violations),
            ),
            ApiError::ResourceExhausted {
                summary,
                retry_after,
                violations,
            } => {
                let mut details = ErrorDetails::with_quota_failure(violations);
                if let Some(delay) = retry_after {
                    details.set_retry_info(Some(delay));
                }
                Status::with_error_details(Code::ResourceExhausted, summary, details)
            }
            ApiError::Upstream(status) => status,
            ApiError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "internal error");
                Status::internal("internal error; the server log has the details")
            }
            other => Status::new(other.code(), other.to_string()),
        }
    }
}

/// The result type of service handlers.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_carries_a_field_violation() {
        let status = Status::from(ApiError::invalid("payload_json", "is not valid JSON"));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "payload_json: is not valid JSON");
        let details = status.get_error_details();
        let bad_request = details.bad_request().expect("bad request details");
        assert_eq!(bad_request.field_violations[0].field, "payload_json");
        assert_eq!(
            bad_request.field_violations[0].description,
            "is not valid JSON"
        );
    }

    #[test]
    fn preconditions_carry_one_violation_each() {
        let status = Status::from(ApiError::Preconditions {
            summary: "breaks BACKWARD".to_string(),
            violations: vec![PreconditionViolation::new(
                "SCHEMA_COMPATIBILITY",
                "/properties/email",
                "became required",
            )],
        });
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(status.message(), "breaks BACKWARD");
        let details = status.get_error_details();
        let failure = details
            .precondition_failure()
            .expect("precondition details");
        assert_eq!(failure.violations[0].subject, "/properties/email");
        assert_eq!(failure.violations[0].description, "became required");
    }

    #[test]
    fn resource_exhausted_carries_quota_failure_and_retry_info() {
        let status = Status::from(ApiError::ResourceExhausted {
            summary: "too fast".to_string(),
            retry_after: Some(Duration::from_millis(250)),
            violations: vec![QuotaViolation::new("workspace:ws_1", "5 events/s")],
        });
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(status.message(), "too fast");
        let details = status.get_error_details();
        let retry = details.retry_info().expect("retry info");
        assert_eq!(retry.retry_delay, Some(Duration::from_millis(250)));
        let failure = details.quota_failure().expect("quota failure");
        assert_eq!(failure.violations[0].subject, "workspace:ws_1");
    }

    #[test]
    fn internal_errors_are_opaque() {
        let status = Status::from(ApiError::Internal(anyhow::anyhow!("password=hunter2")));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
    }
}
