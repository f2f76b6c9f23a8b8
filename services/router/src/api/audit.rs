//! The audit entries of connection and rule changes, written in the
//! change's transaction (`switchyard_tenancy::audit`). Resources are logged as
//! the API shows them: [`ConnectionRecord::audit_json`] and
//! [`RuleRecord::audit_json`] carry neither signing secrets nor credential
//! header values.
//!
//! [`ConnectionRecord::audit_json`]: crate::api::connections::ConnectionRecord::audit_json
//! [`RuleRecord::audit_json`]: crate::api::rules::RuleRecord::audit_json

use std::fmt::Display;

use deadpool_postgres::GenericClient;
use serde_json::Value;
use switchyard_core::error::ApiResult;
use switchyard_tenancy::audit;
use switchyard_tenancy::auth::Principal;

/// Appends the entry of `by`'s `action` (`RouterService/<Method>`) on
/// `resource`.
pub async fn record(
    client: &impl GenericClient,
    by: &Principal,
    action: &str,
    resource: impl Display,
    before: Option<Value>,
    after: Option<Value>,
) -> ApiResult<()> {
    audit::record(
        client,
        by.workspace,
        &by.actor,
        action,
        &resource.to_string(),
        before.as_ref(),
        after.as_ref(),
    )
    .await
}
