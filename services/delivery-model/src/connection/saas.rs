//! The settings of the SaaS kinds. Each API's base URL can be overridden
//! per connection (sandboxes, tests); an override passes the same SSRF
//! guard as a webhook URL.

use serde::{Deserialize, Serialize};

/// Where HubSpot's API lives unless a connection says otherwise.
pub const HUBSPOT_BASE_URL: &str = "https://api.hubapi.com";

/// HubSpot CRM contacts, created or updated by a unique property
/// (`email` unless set), authenticated by a private-app token (the secret
/// `token`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubspotConfig {
    /// Replaces [`HUBSPOT_BASE_URL`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The unique contact property the upsert matches on.
    #[serde(default = "default_id_property")]
    pub id_property: String,
    /// Deliveries to this connection due together share one batch upsert
    /// (up to 100 inputs); `false` sends one request per delivery.
    #[serde(default = "default_batch")]
    pub batch: bool,
}

fn default_id_property() -> String {
    "email".to_string()
}

fn default_batch() -> bool {
    true
}

impl HubspotConfig {
    pub fn base_url(&self) -> &str {
        self.base_url.as_deref().unwrap_or(HUBSPOT_BASE_URL)
    }
}

/// A Mailchimp audience (list) member, added or updated by email,
/// authenticated by an API key (the secret `api_key`, whose `-us6`-style
/// suffix names the data centre).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailchimpConfig {
    /// The audience the member joins.
    pub list_id: String,
    /// `status_if_new`: `subscribed` unless set (`pending` asks the member
    /// to confirm).
    #[serde(default = "default_member_status")]
    pub status_if_new: String,
    /// Replaces `https://<dc>.api.mailchimp.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

fn default_member_status() -> String {
    "subscribed".to_string()
}

impl MailchimpConfig {
    /// The API root for an API key, from its data-centre suffix unless the
    /// connection overrides it.
    pub fn base_url(&self, api_key: &str) -> Result<String, String> {
        if let Some(base) = &self.base_url {
            return Ok(base.clone());
        }
        let dc = mailchimp_data_centre(api_key)?;
        Ok(format!("https://{dc}.api.mailchimp.com"))
    }
}

/// The data centre of a Mailchimp API key: what follows its last `-`.
pub fn mailchimp_data_centre(api_key: &str) -> Result<&str, String> {
    match api_key.rsplit_once('-') {
        Some((_, dc)) if !dc.is_empty() && dc.chars().all(|c| c.is_ascii_alphanumeric()) => Ok(dc),
        _ => Err("the API key has no data-centre suffix (like `-us6`)".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailchimp_data_centre_comes_from_the_key() {
        let config = MailchimpConfig {
            list_id: "abc".into(),
            status_if_new: default_member_status(),
            base_url: None,
        };
        assert_eq!(
            config.base_url("0123456789abcdef-us6").as_deref(),
            Ok("https://us6.api.mailchimp.com")
        );
        assert!(config.base_url("nodash").is_err());
        assert!(config.base_url("key-us6/evil").is_err());
    }
}
