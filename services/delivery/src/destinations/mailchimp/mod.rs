//! Mailchimp: add or update one audience member,
//! `PUT /3.0/lists/{list_id}/members/{subscriber_hash}` where the hash is
//! the MD5 of the lowercased email, authenticated by HTTP Basic with any
//! user name and the API key as password. The API lives in the key's data
//! centre (`…-us6` → `https://us6.api.mailchimp.com`) unless the
//! connection overrides its base URL.
//!
//! The mapped body gives the member: `email_address` (or `email`), and
//! `merge_fields` (an object; without it, every other top-level field is
//! a merge field). [`answer`] reads Mailchimp's answers.

mod answer;

use base64::Engine;
use secrecy::ExposeSecret;
use switchyard_delivery_model::connection::shape;
use switchyard_delivery_model::connection::{ConnectionKind, MailchimpConfig};

use super::{Context, Destination, Sent, json_request, send_built};
use crate::engine::http::{
    HttpResponse, Outbound, SendError, SendResult, Sender, Timeouts, standard_retry_after,
};
use crate::engine::retry::{RetryAction, RetryLogic};

pub struct Mailchimp {
    config: MailchimpConfig,
}

impl Mailchimp {
    pub fn new(config: MailchimpConfig) -> Self {
        Self { config }
    }
}

impl Mailchimp {
    /// The member request of one delivery.
    pub fn build(&self, context: &Context<'_>) -> Result<Outbound, SendError> {
        let api_key = context
            .credentials
            .api_key
            .as_ref()
            .ok_or_else(|| SendError::Invalid("the connection has no Mailchimp API key".into()))?
            .expose_secret();
        let base = self.config.base_url(api_key).map_err(SendError::Invalid)?;
        let shape = shape::mailchimp(&self.config, &base, context.payload)?;
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("switchyard:{api_key}"));
        json_request(
            reqwest::Method::PUT,
            shape.url,
            &format!("Basic {basic}"),
            &shape.body,
            context.traceparent,
            standard_retry_after,
        )
    }
}

#[async_trait::async_trait]
impl Destination for Mailchimp {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Mailchimp
    }

    fn target(&self) -> String {
        let base = self
            .config
            .base_url
            .as_deref()
            .unwrap_or("https://<dc>.api.mailchimp.com");
        format!("{base}/3.0/lists/{}/members", self.config.list_id)
    }

    async fn deliver(&self, context: &Context<'_>, sender: &Sender, timeouts: Timeouts) -> Sent {
        send_built(self.build(context), self.target(), sender, timeouts).await
    }

    fn classify(&self, result: &SendResult, logic: &RetryLogic) -> RetryAction {
        answer::classify(result, logic)
    }

    fn detail(&self, response: &HttpResponse) -> serde_json::Map<String, serde_json::Value> {
        answer::detail(response)
    }
}
