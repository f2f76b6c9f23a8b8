//! HubSpot: create or update one CRM contact by a unique property
//! (`email` unless the connection says otherwise) with the documented
//! batch upsert, `POST /crm/v3/objects/contacts/batch/upsert`
//! (`{"inputs":[{"idProperty","id","properties"}]}`), authenticated by a
//! private-app token as `Authorization: Bearer …`. Unless the connection
//! opts out, deliveries due together share one request ([`batch`]).
//!
//! The rule's mapping builds the contact's `properties`: every top-level
//! field of the mapped body, as text (`switchyard_delivery_model::connection::shape`).
//! [`answer`] reads HubSpot's answers.

mod answer;
mod batch;

pub use batch::Batches;

use secrecy::ExposeSecret;
use switchyard_delivery_model::connection::shape::{self, HUBSPOT_UPSERT_PATH};
use switchyard_delivery_model::connection::{ConnectionKind, HubspotConfig};

use super::tokens::fingerprint;
use super::{Context, Destination, Sent, json_headers, json_request, secret_header, send_built};
use crate::engine::http::{HttpResponse, Outbound, SendError, SendResult, Sender, Timeouts};
use crate::engine::retry::{RetryAction, RetryLogic};

pub struct Hubspot {
    config: HubspotConfig,
}

impl Hubspot {
    pub fn new(config: HubspotConfig) -> Self {
        Self { config }
    }
}

impl Hubspot {
    /// The single-contact request of one delivery (batching off).
    pub fn build(&self, context: &Context<'_>) -> Result<Outbound, SendError> {
        let token = context
            .credentials
            .token
            .as_ref()
            .ok_or_else(|| SendError::Invalid("the connection has no HubSpot token".into()))?;
        let shape = shape::hubspot(&self.config, context.payload)?;
        json_request(
            reqwest::Method::POST,
            shape.url,
            &format!("Bearer {}", token.expose_secret()),
            &shape.body,
            context.traceparent,
            answer::retry_after,
        )
    }

    /// Hands the delivery's input to the connection's batcher.
    async fn deliver_batched(
        &self,
        context: &Context<'_>,
        sender: &Sender,
        timeouts: Timeouts,
    ) -> Sent {
        let failed = |error| Sent {
            method: None,
            target: self.target(),
            result: Err(error),
        };
        let token = match context.credentials.token.as_ref() {
            Some(token) => token.expose_secret(),
            None => {
                return failed(SendError::Invalid(
                    "the connection has no HubSpot token".into(),
                ));
            }
        };
        let shaped = match shape::hubspot(&self.config, context.payload) {
            Ok(shaped) => shaped,
            Err(error) => return failed(error.into()),
        };
        let mut headers = json_headers(false);
        match secret_header(&format!("Bearer {token}")) {
            Ok(value) => headers.insert(reqwest::header::AUTHORIZATION, value),
            Err(error) => return failed(error),
        };
        let route = batch::Route {
            url: shaped.url.clone(),
            headers,
            timeouts,
        };
        let fingerprint = fingerprint(&[&shaped.url, token]);
        let batcher =
            match context
                .shared
                .hubspot
                .batcher(context.connection, fingerprint, sender, route)
            {
                Ok(batcher) => batcher,
                Err(error) => return failed(error),
            };
        let input = shaped.body["inputs"][0].clone();
        let result = batcher
            .call(input)
            .await
            .unwrap_or_else(|error| Err(SendError::Other(format!("{error:#}"))));
        Sent {
            method: Some(reqwest::Method::POST),
            target: shaped.url,
            result,
        }
    }
}

#[async_trait::async_trait]
impl Destination for Hubspot {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Hubspot
    }

    fn target(&self) -> String {
        format!(
            "{}{HUBSPOT_UPSERT_PATH}",
            self.config.base_url().trim_end_matches('/')
        )
    }

    async fn deliver(&self, context: &Context<'_>, sender: &Sender, timeouts: Timeouts) -> Sent {
        if self.config.batch {
            return self.deliver_batched(context, sender, timeouts).await;
        }
        send_built(self.build(context), self.target(), sender, timeouts).await
    }

    fn classify(&self, result: &SendResult, logic: &RetryLogic) -> RetryAction {
        answer::classify(result, logic)
    }

    fn detail(&self, response: &HttpResponse) -> serde_json::Map<String, serde_json::Value> {
        answer::detail(response)
    }
}
