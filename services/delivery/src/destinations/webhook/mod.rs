//! The webhook kind: the mapped body POSTed as JSON to the connection's
//! URL, signed with Standard Webhooks ([`request`]). Its answers are read
//! by the connection's default `RetryLogic` alone.

mod request;

use switchyard_delivery_model::connection::{ConnectionKind, WebhookConfig};

pub use request::{WebhookRequest, signed_headers};

use super::{Context, Destination, Sent, send_built};
use crate::engine::http::{Outbound, SendError, Sender, Timeouts, standard_retry_after};

pub struct Webhook {
    config: WebhookConfig,
}

impl Webhook {
    pub fn new(config: WebhookConfig) -> Self {
        Self { config }
    }
}

#[async_trait::async_trait]
impl Destination for Webhook {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Webhook
    }

    fn target(&self) -> String {
        self.config.url.clone()
    }

    fn signed(&self) -> bool {
        true
    }

    async fn deliver(&self, context: &Context<'_>, sender: &Sender, timeouts: Timeouts) -> Sent {
        send_built(self.build(context), self.target(), sender, timeouts).await
    }
}

impl Webhook {
    /// The signed request of one delivery.
    pub fn build(&self, context: &Context<'_>) -> Result<Outbound, SendError> {
        let body = serde_json::to_vec(context.payload)
            .map_err(|error| SendError::Invalid(format!("payload: {error}")))?;
        let request = WebhookRequest {
            url: &self.config.url,
            headers: &self.config.headers,
            credential_headers: &context.credentials.headers,
            signing_secrets: &context.credentials.signing_secrets,
            webhook_id: context.delivery_id,
            body,
            traceparent: context.traceparent,
        };
        let headers = signed_headers(&request)?;
        Ok(Outbound {
            method: reqwest::Method::POST,
            url: request.url.to_string(),
            headers,
            body: request.body,
            retry_after: standard_retry_after,
        })
    }
}
