//! The connection handlers of the delivery controls: `UpdateConnection`,
//! `PauseConnection`, `ResumeConnection`, `GetConnection` with the live
//! circuit breaker, and `RotateSigningSecret`. Requests are validated here;
//! the work is in [`crate::api::connections::controls`] and
//! [`crate::api::connections::signing`].

use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::ConnectionId;
use switchyard_core::states::ConnectionState;
use switchyard_core::time;
use switchyard_proto::v1 as pb;
use tonic::Request;

use super::messages::{connection_message, parse_connection_id};
use crate::RouterState;
use crate::api::connections;
use crate::api::connections::controls::{self, ConnectionPatch};

/// The requested state; `None` for UNSPECIFIED (unchanged).
fn requested_state(state: i32) -> ApiResult<Option<ConnectionState>> {
    let state = pb::ConnectionState::try_from(state)
        .map_err(|_| ApiError::invalid("state", "is not a ConnectionState"))?;
    match ConnectionState::try_from(state).ok() {
        Some(ConnectionState::NeedsCredentials) => Err(ApiError::invalid(
            "state",
            "NEEDS_CREDENTIALS is set by the delivery engine; send new credentials instead",
        )),
        state => Ok(state),
    }
}

impl RouterState {
    /// `GetConnection`: the connection and its circuit breaker.
    pub(super) async fn get_connection(
        &self,
        request: Request<pb::GetConnectionRequest>,
    ) -> ApiResult<pb::Connection> {
        let workspace = self.workspace(&request).await?;
        let id = parse_connection_id(&request.get_ref().id, "id")?;
        let record = connections::get(&self.pool, workspace, id).await?;
        let mut connection = connection_message(&record, None);
        let snapshot = controls::breaker(self, workspace, id).await;
        if let Some(adaptive) = record.policy.adaptive_concurrency {
            let current = snapshot.as_ref().and_then(|s| s.adaptive_limit);
            connection.concurrency_limit = current.map_or(adaptive.min, |limit| {
                (limit.floor() as u32).clamp(adaptive.min, adaptive.max)
            });
        }
        connection.circuit_breaker = snapshot.and_then(|s| s.breaker);
        Ok(connection)
    }

    pub(super) async fn update_connection(
        &self,
        request: Request<pb::UpdateConnectionRequest>,
    ) -> ApiResult<pb::UpdateConnectionResponse> {
        let by = self.principal(&request)?;
        let request = request.into_inner();
        let id = parse_connection_id(&request.id, "id")?;
        let webhook = match &request.webhook {
            Some(webhook) => Some(
                connections::validate_webhook(&webhook.url, &webhook.headers, &self.destinations)
                    .await?,
            ),
            None => None,
        };
        let set = [
            request.hubspot.is_some(),
            request.mailchimp.is_some(),
            request.salesforce.is_some(),
            request.rabbitmq.is_some(),
            request.nats.is_some(),
        ];
        if set.iter().filter(|set| **set).count() > 1 {
            return Err(ApiError::invalid(
                "hubspot",
                "only one of hubspot, mailchimp, salesforce, rabbitmq and nats may be set",
            ));
        }
        let policy = &self.destinations;
        let saas = if let Some(hubspot) = &request.hubspot {
            Some(connections::saas::validate_hubspot(hubspot, policy, false).await?)
        } else if let Some(mailchimp) = &request.mailchimp {
            Some(connections::saas::validate_mailchimp(mailchimp, policy, false).await?)
        } else if let Some(salesforce) = &request.salesforce {
            Some(connections::saas::validate_salesforce(salesforce, policy, false).await?)
        } else if let Some(rabbitmq) = &request.rabbitmq {
            Some(connections::broker::validate_rabbitmq(rabbitmq, policy, false).await?)
        } else if let Some(nats) = &request.nats {
            Some(connections::broker::validate_nats(nats, policy, false).await?)
        } else {
            None
        };
        let patch = ConnectionPatch {
            name: request
                .name
                .as_deref()
                .map(connections::validate_name)
                .transpose()?,
            webhook,
            saas,
            policy: request
                .policy
                .as_ref()
                .map(|policy| connections::policy::from_proto(Some(policy)))
                .transpose()?,
            state: requested_state(request.state)?,
        };
        if patch.name.is_none()
            && patch.webhook.is_none()
            && patch.saas.is_none()
            && patch.policy.is_none()
            && patch.state.is_none()
        {
            return Err(ApiError::invalid(
                "fields",
                "none is set: nothing to change",
            ));
        }
        let action = "RouterService/UpdateConnection";
        let updated = controls::update(self, &by, action, id, patch).await?;
        Ok(pb::UpdateConnectionResponse {
            connection: Some(connection_message(&updated.record, None)),
            requeued_count: u32::try_from(updated.requeued).unwrap_or(u32::MAX),
        })
    }

    /// `RotateSigningSecret`: the new secret, returned only here.
    pub(super) async fn rotate_signing_secret(
        &self,
        request: Request<pb::RotateSigningSecretRequest>,
    ) -> ApiResult<pb::RotateSigningSecretResponse> {
        let by = self.principal(&request)?;
        let request = request.into_inner();
        let id = parse_connection_id(&request.id, "id")?;
        let grace = connections::signing::grace_period(request.grace_period.as_ref())?;
        let rotated =
            connections::signing::rotate(&self.pool, &self.keyring, &by, id, grace).await?;
        Ok(pb::RotateSigningSecretResponse {
            connection: Some(connection_message(&rotated.record, None)),
            signing_secret: rotated.secret,
            previous_secret_expires_at: time::to_proto_opt(rotated.previous_expires_at),
        })
    }

    /// Pause and resume (`action`): an update of the state alone.
    pub(super) async fn set_connection_state(
        &self,
        workspace_request: &Request<impl Sized>,
        id: &str,
        state: ConnectionState,
        action: &str,
    ) -> ApiResult<(pb::Connection, u64)> {
        let by = self.principal(workspace_request)?;
        let id: ConnectionId = parse_connection_id(id, "id")?;
        let patch = ConnectionPatch {
            state: Some(state),
            ..ConnectionPatch::default()
        };
        let updated = controls::update(self, &by, action, id, patch).await?;
        Ok((connection_message(&updated.record, None), updated.requeued))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_map_both_ways() {
        for (stored, state) in [
            (ConnectionState::Active, pb::ConnectionState::Active),
            (ConnectionState::Paused, pb::ConnectionState::Paused),
            (ConnectionState::Disabled, pb::ConnectionState::Disabled),
        ] {
            assert_eq!(pb::ConnectionState::from(stored), state);
            assert_eq!(requested_state(state.into()).ok(), Some(Some(stored)));
        }
        assert_eq!(
            pb::ConnectionState::from(ConnectionState::NeedsCredentials),
            pb::ConnectionState::NeedsCredentials
        );
        assert!(requested_state(pb::ConnectionState::NeedsCredentials.into()).is_err());
        assert_eq!(requested_state(0).ok(), Some(None));
        assert!(requested_state(99).is_err());
    }
}
