//! Salesforce: create a Lead (or the connection's sObject) with
//! `POST {instance_url}/services/data/{version}/sobjects/{object}/`, or
//! upsert it by an external-id field with
//! `PATCH …/sobjects/{object}/{field}/{value}` (the value taken out of the
//! mapped body). The mapped body is the record's fields.
//!
//! Authentication is the OAuth 2.0 client-credentials flow ([`token`]):
//! the token and the `instance_url` of its answer are cached per
//! connection; when Salesforce answers `INVALID_SESSION_ID` (the token
//! expired or was revoked) the token is fetched again and the request
//! sent once more, within the same attempt. [`answer`] reads the answers.

mod answer;
mod token;

use secrecy::ExposeSecret;
use switchyard_delivery_model::connection::shape;
use switchyard_delivery_model::connection::{ConnectionKind, SalesforceConfig};

use super::{Context, Destination, Sent, json_request};
use crate::engine::http::standard_retry_after;
use crate::engine::http::{HttpResponse, Outbound, SendError, SendResult, Sender, Timeouts};
use crate::engine::retry::{RetryAction, RetryLogic};

pub struct Salesforce {
    config: SalesforceConfig,
}

impl Salesforce {
    pub fn new(config: SalesforceConfig) -> Self {
        Self { config }
    }

    fn outbound(
        &self,
        context: &Context<'_>,
        access_token: &str,
        instance_url: &str,
    ) -> Result<Outbound, SendError> {
        let shape = shape::salesforce(&self.config, instance_url, context.payload)?;
        let method = reqwest::Method::from_bytes(shape.method.as_bytes())
            .map_err(|error| SendError::Invalid(format!("method: {error}")))?;
        json_request(
            method,
            shape.url,
            &format!("Bearer {access_token}"),
            &shape.body,
            context.traceparent,
            standard_retry_after,
        )
    }
}

#[async_trait::async_trait]
impl Destination for Salesforce {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Salesforce
    }

    fn target(&self) -> String {
        self.config.sobject_url(self.config.login_url())
    }

    async fn deliver(&self, context: &Context<'_>, sender: &Sender, timeouts: Timeouts) -> Sent {
        let mut refreshed = false;
        loop {
            let token =
                match token::obtain(&self.config, context, sender, timeouts, refreshed).await {
                    Ok(token) => token,
                    Err(sent) => return sent,
                };
            let request = match self.outbound(
                context,
                token.access_token.expose_secret(),
                &token.instance_url,
            ) {
                Ok(request) => request,
                Err(error) => {
                    return Sent {
                        method: None,
                        target: self.target(),
                        result: Err(error),
                    };
                }
            };
            let (method, target) = (request.method.clone(), request.url.clone());
            let result = sender.send(request, timeouts).await;
            if !refreshed && answer::session_expired(&result) {
                tracing::info!("salesforce session expired; refreshing the token once");
                context.shared.tokens.forget(context.connection);
                refreshed = true;
                continue;
            }
            return Sent {
                method: Some(method),
                target,
                result,
            };
        }
    }

    fn classify(&self, result: &SendResult, logic: &RetryLogic) -> RetryAction {
        answer::classify(result, logic)
    }

    fn detail(&self, response: &HttpResponse) -> serde_json::Map<String, serde_json::Value> {
        answer::detail(response)
    }
}
