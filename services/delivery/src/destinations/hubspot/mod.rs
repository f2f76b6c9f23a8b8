//! HubSpot: create or update one CRM contact by a unique property
//! (`email` unless the connection says otherwise) with the documented
//! batch upsert, `POST /crm/v3/objects/contacts/batch/upsert`
//! (`{"inputs":[{"idProperty","id","properties"}]}`), authenticated by a
//! private-app token as `Authorization: Bearer …`.
//!
//! The rule's mapping builds the contact's `properties`: every top-level
//! field of the mapped body, as text (`switchyard_core::connection::shape`).
//! [`answer`] reads HubSpot's answers.

mod answer;

use secrecy::ExposeSecret;
use switchyard_core::connection::shape::{self, HUBSPOT_UPSERT_PATH};
use switchyard_core::connection::{ConnectionKind, HubspotConfig};

use super::{Context, Destination, json_headers, secret_header};
use crate::engine::http::{HttpResponse, Outbound, SendError, SendResult};
use crate::engine::retry::{RetryAction, RetryLogic};

pub struct Hubspot {
    config: HubspotConfig,
}

impl Hubspot {
    pub fn new(config: HubspotConfig) -> Self {
        Self { config }
    }
}

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

    fn build(&self, context: &Context<'_>) -> Result<Outbound, SendError> {
        let token = context
            .credentials
            .token
            .as_ref()
            .ok_or_else(|| SendError::Invalid("the connection has no HubSpot token".into()))?;
        let shape = shape::hubspot(&self.config, context.payload)?;
        let mut headers = json_headers(context.traceparent);
        let bearer = format!("Bearer {}", token.expose_secret());
        headers.insert(reqwest::header::AUTHORIZATION, secret_header(&bearer)?);
        Ok(Outbound {
            method: reqwest::Method::POST,
            url: shape.url,
            headers,
            body: serde_json::to_vec(&shape.body)
                .map_err(|error| SendError::Invalid(format!("body: {error}")))?,
            retry_after: answer::retry_after,
        })
    }

    fn classify(&self, result: &SendResult, logic: &RetryLogic) -> RetryAction {
        answer::classify(result, logic)
    }

    fn detail(&self, response: &HttpResponse) -> serde_json::Map<String, serde_json::Value> {
        answer::detail(response)
    }
}
