//! Changing a connection after its creation — `UpdateConnection`,
//! `PauseConnection`, `ResumeConnection` — and the live circuit breaker
//! `GetConnection` shows.
//!
//! A connection is `active`, `paused` (its deliveries accumulate: the
//! delivery engine does not claim them, so no attempt is spent) or
//! `disabled` (its deliveries die without a request; the engine sets it on
//! a 410 Gone). Whenever a change makes a connection active again, the
//! delivery service re-enqueues its pending and retrying deliveries from
//! Postgres in order of creation (`RequeueConnection`): their jobs were
//! dropped while it was paused. A connection whose credentials the
//! destination rejected is `needs_credentials` (set by the delivery
//! engine): its deliveries wait as if paused, and an update that sets new
//! credentials makes it active again. The breaker is the delivery engine's
//! state (written by every replica); the router asks for it
//! (`GetBreaker`, see [`crate::delivery`]).

use std::collections::BTreeMap;

use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{ConnectionId, WorkspaceId};
use switchyard_core::states::ConnectionState;
use switchyard_delivery_model::policy::DeliveryPolicy;
use switchyard_proto::internal::v1::GetBreakerResponse;
use switchyard_tenancy::auth::Principal;
use switchyard_tenancy::secrets;

use crate::RouterState;
use crate::api::connections::saas::KindSettings;
use crate::api::connections::{self, CONNECTION_COLUMNS, ConnectionRecord, WebhookSettings};

/// What an update changes; `None` keeps the current value.
#[derive(Clone, Debug, Default)]
pub struct ConnectionPatch {
    pub name: Option<String>,
    pub webhook: Option<WebhookSettings>,
    /// A SaaS or broker connection's settings (and new credential).
    pub saas: Option<KindSettings>,
    pub policy: Option<DeliveryPolicy>,
    /// Active, paused or disabled (`needs_credentials` is the delivery
    /// engine's to set).
    pub state: Option<ConnectionState>,
}

/// A connection after an update.
#[derive(Clone, Debug)]
pub struct Updated {
    pub record: ConnectionRecord,
    /// Deliveries re-enqueued because the update made it active again.
    pub requeued: u64,
}

/// Applies `patch` in one transaction (the row, the sealed credential
/// headers when the webhook changes, and the audit entry of `by`'s
/// `action`); re-enqueues the connection's waiting deliveries when it
/// became active.
#[tracing::instrument(skip_all, fields(workspace_id = %by.workspace, connection_id = %id))]
pub async fn update(
    state: &RouterState,
    by: &Principal,
    action: &str,
    id: ConnectionId,
    patch: ConnectionPatch,
) -> ApiResult<Updated> {
    let workspace = by.workspace;
    let (mut config, credentials) = match &patch.webhook {
        Some(webhook) => {
            let (config, credentials) = connections::stored_config(webhook)?;
            (Some(config), Some(credentials))
        }
        None => (None, None),
    };
    if let Some(saas) = &patch.saas {
        config = Some(saas.config.to_stored());
    }
    let policy = patch.policy.as_ref().map(DeliveryPolicy::to_json);
    let reason = match patch.state {
        Some(ConnectionState::Paused) => "paused by an operator",
        Some(ConnectionState::Disabled) => "disabled by an operator",
        _ => "",
    };
    let returning: Vec<String> = CONNECTION_COLUMNS
        .split(',')
        .map(|column| format!("c.{}", column.trim()))
        .collect();
    let mut client = state.pool.get().await?;
    let transaction = client.transaction().await?;
    let before = connections::get_with(&transaction, workspace, id, true).await?;
    let wanted_kind = match (&patch.webhook, &patch.saas) {
        (Some(_), _) => Some("webhook"),
        (None, Some(saas)) => Some(saas.config.kind().as_str()),
        (None, None) => None,
    };
    if let Some(kind) = wanted_kind.filter(|kind| *kind != before.kind) {
        return Err(ApiError::invalid(
            kind,
            format!(
                "does not apply: the connection is a {} connection",
                before.kind
            ),
        ));
    }
    let new_credential = patch.saas.as_ref().and_then(|saas| saas.credential.clone());
    let mut new_state = patch.state;
    if new_state.is_none()
        && new_credential.is_some()
        && before.state == ConnectionState::NeedsCredentials
    {
        new_state = Some(ConnectionState::Active);
    }
    let row = transaction
        .query_opt(
            &format!(
                "WITH old AS ( \
                    SELECT id, state FROM connections \
                    WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL \
                    FOR UPDATE \
                 ) \
                 UPDATE connections c \
                 SET name = COALESCE($3, c.name), config = COALESCE($4, c.config), \
                     policy = COALESCE($5, c.policy), state = COALESCE($6, c.state), \
                     state_reason = CASE WHEN $6::text IS NOT NULL AND $6 <> old.state \
                                         THEN $7 ELSE c.state_reason END, \
                     state_changed_at = CASE WHEN $6::text IS NOT NULL AND $6 <> old.state \
                                             THEN now() ELSE c.state_changed_at END, \
                     updated_at = now() \
                 FROM old WHERE c.id = old.id \
                 RETURNING {}, old.state AS previous_state",
                returning.join(", ")
            ),
            &[
                &workspace.as_uuid(),
                &id.as_uuid(),
                &patch.name,
                &config,
                &policy,
                &new_state,
                &reason,
            ],
        )
        .await?;
    let row = row.ok_or_else(|| ApiError::not_found(format!("connection {id} not found")))?;
    if let Some((field, secret)) = &new_credential {
        secrets::store::put(
            &transaction,
            &state.keyring,
            workspace,
            id,
            field,
            secret,
            None,
        )
        .await?;
    }
    if let Some(credentials) = credentials {
        let keyring = &state.keyring;
        let credentials = unmask(&transaction, keyring, id, credentials).await?;
        secrets::store::replace_headers(&transaction, keyring, workspace, id, &credentials).await?;
    }
    let record = connections::record_from_row(&row)?;
    let (before, after) = (Some(before.audit_json()), Some(record.audit_json()));
    crate::api::audit::record(&transaction, by, action, id, before, after).await?;
    transaction.commit().await?;
    let previous: ConnectionState = row.get("previous_state");
    let mut requeued = 0;
    if record.state == ConnectionState::Active && previous != ConnectionState::Active {
        requeued = state.delivery.requeue(workspace, id).await?;
        tracing::info!(requeued, from = %previous, "connection resumed");
    } else if record.state != previous {
        tracing::info!(from = %previous, to = %record.state, "connection state changed");
    }
    Ok(Updated { record, requeued })
}

/// The connection's breaker as the delivery replicas left it; `None` (and
/// a warning) when the delivery service cannot tell, so `GetConnection`
/// still answers.
pub async fn breaker(
    state: &RouterState,
    workspace: WorkspaceId,
    id: ConnectionId,
) -> Option<GetBreakerResponse> {
    match state.delivery.breaker(workspace, id).await {
        Ok(snapshot) => Some(snapshot),
        Err(error) => {
            tracing::warn!(%error, connection_id = %id, "reading the circuit breaker failed");
            None
        }
    }
}

/// Credential headers sent back as the [`connections::MASK`] the API shows
/// them with keep their stored value, so a read-modify-write of a
/// connection never overwrites a credential with the mask. A mask for a
/// header with nothing stored is refused.
async fn unmask(
    transaction: &deadpool_postgres::Transaction<'_>,
    keyring: &secrets::Keyring,
    id: ConnectionId,
    mut credentials: BTreeMap<String, String>,
) -> ApiResult<BTreeMap<String, String>> {
    for (name, value) in &mut credentials {
        if value != connections::MASK {
            continue;
        }
        let field = secrets::SecretField::Header(name.clone());
        let stored = secrets::store::read(transaction, keyring, id, &field).await?;
        let Some(stored) = stored else {
            return Err(ApiError::invalid(
                format!("webhook.headers[{name}]"),
                "is the mask `********` but no value is stored for this header: send the value",
            ));
        };
        *value = secrecy::ExposeSecret::expose_secret(&stored).to_string();
    }
    Ok(credentials)
}
