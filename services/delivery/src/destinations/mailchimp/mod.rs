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
use md5::{Digest, Md5};
use secrecy::ExposeSecret;
use switchyard_core::connection::{ConnectionKind, MailchimpConfig};

use super::{Context, Destination, json_headers, secret_header};
use crate::engine::http::{HttpResponse, Outbound, SendError, SendResult, standard_retry_after};
use crate::engine::retry::{RetryAction, RetryLogic};

pub struct Mailchimp {
    config: MailchimpConfig,
}

/// Mailchimp's id of a member: MD5 of the lowercased email, in hex.
pub fn subscriber_hash(email: &str) -> String {
    Md5::digest(email.to_lowercase().as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

impl Mailchimp {
    pub fn new(config: MailchimpConfig) -> Self {
        Self { config }
    }

    /// The member body and its email, from one mapped body.
    pub fn member(
        &self,
        payload: &serde_json::Value,
    ) -> Result<(String, serde_json::Value), SendError> {
        let fields = payload.as_object().ok_or_else(|| {
            SendError::Unsendable("a Mailchimp member's mapping must build a JSON object".into())
        })?;
        let email = ["email_address", "email"]
            .iter()
            .find_map(|name| fields.get(*name).and_then(|value| value.as_str()))
            .filter(|email| email.contains('@'))
            .ok_or_else(|| {
                SendError::Unsendable("the mapped member has no `email_address`".into())
            })?
            .to_string();
        let merge_fields = match fields.get("merge_fields") {
            Some(serde_json::Value::Object(merge)) => merge.clone(),
            Some(_) => {
                return Err(SendError::Unsendable(
                    "`merge_fields` is not an object".into(),
                ));
            }
            None => fields
                .iter()
                .filter(|(name, _)| !matches!(name.as_str(), "email_address" | "email"))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
        };
        let body = serde_json::json!({
            "email_address": email,
            "status_if_new": self.config.status_if_new,
            "merge_fields": merge_fields,
        });
        Ok((email, body))
    }

    fn members_url(&self, base: &str) -> String {
        format!(
            "{}/3.0/lists/{}/members",
            base.trim_end_matches('/'),
            self.config.list_id
        )
    }
}

impl Destination for Mailchimp {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Mailchimp
    }

    fn target(&self) -> String {
        let base = self
            .config
            .base_url
            .clone()
            .unwrap_or_else(|| "https://<dc>.api.mailchimp.com".to_string());
        self.members_url(&base)
    }

    fn build(&self, context: &Context<'_>) -> Result<Outbound, SendError> {
        let api_key = context
            .credentials
            .api_key
            .as_ref()
            .ok_or_else(|| SendError::Invalid("the connection has no Mailchimp API key".into()))?
            .expose_secret();
        let base = self.config.base_url(api_key).map_err(SendError::Invalid)?;
        let (email, body) = self.member(context.payload)?;
        let url = format!("{}/{}", self.members_url(&base), subscriber_hash(&email));
        let mut headers = json_headers(context.traceparent);
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("switchyard:{api_key}"));
        headers.insert(
            reqwest::header::AUTHORIZATION,
            secret_header(&format!("Basic {basic}"))?,
        );
        Ok(Outbound {
            method: reqwest::Method::PUT,
            url,
            headers,
            body: serde_json::to_vec(&body)
                .map_err(|error| SendError::Invalid(format!("body: {error}")))?,
            retry_after: standard_retry_after,
        })
    }

    fn classify(&self, result: &SendResult, logic: &RetryLogic) -> RetryAction {
        answer::classify(result, logic)
    }

    fn detail(&self, response: &HttpResponse) -> serde_json::Map<String, serde_json::Value> {
        answer::detail(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailchimp() -> Mailchimp {
        Mailchimp::new(MailchimpConfig {
            list_id: "57afe96172".into(),
            status_if_new: "subscribed".into(),
            base_url: None,
        })
    }

    #[test]
    fn subscriber_hash_is_md5_of_the_lowercased_email() {
        // md5("urist.mcvankab@freddiesjokes.com"), Mailchimp's own example.
        assert_eq!(
            subscriber_hash("Urist.McVankab@freddiesjokes.com"),
            "62eeb292278cc15f5817cb78f7790b08"
        );
    }

    #[test]
    fn members_carry_merge_fields() {
        let (email, body) = mailchimp()
            .member(&serde_json::json!({"email": "ada@example.com", "FNAME": "Ada"}))
            .expect("member");
        assert_eq!(email, "ada@example.com");
        assert_eq!(
            body,
            serde_json::json!({"email_address": "ada@example.com", "status_if_new": "subscribed",
                "merge_fields": {"FNAME": "Ada"}})
        );
        let explicit = mailchimp()
            .member(&serde_json::json!({"email_address": "a@b.c", "merge_fields": {"LNAME": "L"}, "x": 1}))
            .expect("member");
        assert_eq!(
            explicit.1["merge_fields"],
            serde_json::json!({"LNAME": "L"})
        );
        assert!(matches!(
            mailchimp().member(&serde_json::json!({"FNAME": "Ada"})),
            Err(SendError::Unsendable(_))
        ));
    }
}
