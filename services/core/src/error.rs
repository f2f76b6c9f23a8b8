//! The error every service handler returns, and the one table that maps it
//! to a gRPC status. Callers' mistakes carry a precise message (and, for
//! invalid arguments, `google.rpc.BadRequest` field violations SDKs can show;
//! for exhausted quotas, `google.rpc.QuotaFailure` and, when waiting helps,
//! `google.rpc.RetryInfo`); our own failures become an opaque `Internal`
//! and are logged in full.
//!
//! An outage is not a bug: when Postgres, Redis or another Switchyard
//! service is unreachable (see [`crate::outage`] for what counts), the call
//! is answered `Unavailable` with a `google.rpc.RetryInfo` of
//! [`OUTAGE_RETRY_DELAY`], which gRPC clients and our SDKs retry. That holds
//! for errors converted here and for outages found anywhere in the context
//! chain of an `Internal` error, so handlers need no special care.

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, PreconditionViolation, QuotaViolation, StatusExt};

use crate::outage::{self, Dependency};

/// How long clients are asked to wait before retrying a call refused
/// during an outage: a restarting Postgres or Redis is usually back within
/// a few seconds, and the SDKs back off further on each attempt.
pub const OUTAGE_RETRY_DELAY: Duration = Duration::from_secs(1);

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
    /// A dependency is unreachable; retrying later helps. Answered with a
    /// `google.rpc.RetryInfo` of [`OUTAGE_RETRY_DELAY`].
    #[error("{0}")]
    Unavailable(String),
    /// A workspace quota is used up (see `switchyard_tenancy::quota::exceeded`); each
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

    /// A status of another Switchyard service: a transport failure (it is
    /// unreachable, or the call timed out or was cut) becomes
    /// [`ApiError::Unavailable`] naming `service`; any other status is
    /// passed on as is.
    pub fn upstream(service: &str, status: Status) -> Self {
        match status.code() {
            Code::Unavailable | Code::DeadlineExceeded | Code::Unknown | Code::Cancelled => {
                tracing::warn!(error = %status, service, "service unreachable");
                Self::Unavailable(format!("{service} is unreachable; retry later"))
            }
            _ => Self::Upstream(status),
        }
    }

    fn outage(dependency: Dependency, error: &dyn std::fmt::Debug) -> Self {
        tracing::warn!(error = ?error, "{dependency} is unreachable");
        Self::Unavailable(format!("{dependency} is unreachable; retry later"))
    }

    pub fn code(&self) -> Code {
        match self {
            Self::Internal(error) if outage::find(error).is_some() => Code::Unavailable,
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
        if outage::postgres(&error) {
            return Self::outage(Dependency::Postgres, &error);
        }
        Self::Internal(anyhow::Error::new(error).context("postgres"))
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        if outage::pool(&error) {
            return Self::outage(Dependency::Postgres, &error);
        }
        Self::Internal(anyhow::Error::new(error).context("postgres pool"))
    }
}

impl From<redis::RedisError> for ApiError {
    fn from(error: redis::RedisError) -> Self {
        if outage::redis(&error) {
            return Self::outage(Dependency::Redis, &error);
        }
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
            ApiError::Unavailable(message) => unavailable(message),
            ApiError::Upstream(status) if status.code() == Code::Unavailable => {
                if status.get_details_retry_info().is_some() {
                    status
                } else {
                    unavailable(status.message().to_string())
                }
            }
            ApiError::Upstream(status) => status,
            ApiError::Internal(error) => {
                // A handler's context around a dependency's failure: still an outage.
                if let Some(dependency) = outage::find(&error) {
                    tracing::warn!(error = format!("{error:#}"), "{dependency} is unreachable");
                    return unavailable(format!("{dependency} is unreachable; retry later"));
                }
                tracing::error!(error = format!("{error:#}"), "internal error");
                Status::internal("internal error; the server log has the details")
            }
            other => Status::new(other.code(), other.to_string()),
        }
    }
}

fn unavailable(message: String) -> Status {
    let mut details = ErrorDetails::new();
    details.set_retry_info(Some(OUTAGE_RETRY_DELAY));
    Status::with_error_details(Code::Unavailable, message, details)
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

    fn assert_unavailable_with_retry_info(status: &Status) {
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        let details = status.get_error_details();
        let retry = details.retry_info().expect("retry info");
        assert_eq!(retry.retry_delay, Some(OUTAGE_RETRY_DELAY));
    }

    /// A loopback port nothing listens on (bound, then released).
    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    }

    #[test]
    fn a_pool_timeout_is_unavailable_with_retry_info() {
        let error = deadpool_postgres::PoolError::Timeout(deadpool_postgres::TimeoutType::Wait);
        let error = ApiError::from(error);
        assert_eq!(error.code(), Code::Unavailable);
        let status = Status::from(error);
        assert_unavailable_with_retry_info(&status);
        assert_eq!(status.message(), "the database is unreachable; retry later");
    }

    #[tokio::test]
    async fn a_refused_postgres_connection_is_unavailable_with_retry_info() {
        let url = format!("postgres://postgres@127.0.0.1:{}/x", closed_port());
        let pool = crate::db::pool(&url, 1).expect("pool");
        let Err(error) = pool.get().await else {
            panic!("connected to a closed port");
        };
        assert_unavailable_with_retry_info(&Status::from(ApiError::from(error)));

        // The same failure inside a handler's `anyhow` context.
        let Err(error) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await else {
            panic!("connected to a closed port");
        };
        let wrapped = ApiError::Internal(anyhow::Error::new(error).context("loading rules"));
        assert_eq!(wrapped.code(), Code::Unavailable);
        assert_unavailable_with_retry_info(&Status::from(wrapped));
    }

    #[tokio::test]
    async fn a_redis_io_error_is_unavailable_with_retry_info() {
        let url = format!("redis://127.0.0.1:{}", closed_port());
        let client = redis::Client::open(url).expect("client");
        let Err(error) = client.get_multiplexed_async_connection().await else {
            panic!("connected to a closed port");
        };
        let status = Status::from(ApiError::from(error));
        assert_unavailable_with_retry_info(&status);
        assert_eq!(
            status.message(),
            "the queue (Redis) is unreachable; retry later"
        );

        let dropped =
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_unavailable_with_retry_info(&Status::from(ApiError::from(dropped)));
    }

    #[test]
    fn an_unreachable_service_is_unavailable_with_retry_info() {
        let cut = ApiError::upstream("the schema registry", Status::unknown("h2 protocol error"));
        let status = Status::from(cut);
        assert_unavailable_with_retry_info(&status);
        assert_eq!(
            status.message(),
            "the schema registry is unreachable; retry later"
        );

        // Its own answers pass through; its outages gain retry information.
        let answer = ApiError::upstream("the schema registry", Status::not_found("no such type"));
        assert_eq!(Status::from(answer).code(), Code::NotFound);
        let outage = ApiError::upstream("the router", Status::unavailable("tcp connect error"));
        assert_unavailable_with_retry_info(&Status::from(outage));
        let passed = Status::from(ApiError::Upstream(Status::unavailable("restarting")));
        assert_unavailable_with_retry_info(&passed);
    }

    #[test]
    fn a_bug_stays_internal() {
        let wrong_type =
            redis::RedisError::from((redis::ErrorKind::UnexpectedReturnType, "expected a stream"));
        let status = Status::from(ApiError::from(wrong_type));
        assert_eq!(status.code(), Code::Internal);
        assert!(status.get_error_details().retry_info().is_none());

        let bug = ApiError::Internal(anyhow::anyhow!("row without id").context("routing"));
        assert_eq!(bug.code(), Code::Internal);
        assert_eq!(Status::from(bug).code(), Code::Internal);
    }

    #[test]
    fn internal_errors_are_opaque() {
        let status = Status::from(ApiError::Internal(anyhow::anyhow!("password=hunter2")));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
    }
}
