//! The Salesforce kind's settings: a Lead (or another sObject) created, or
//! upserted by an external-id field, through the REST API; authenticated
//! by the OAuth 2.0 client-credentials flow of a connected app (its
//! consumer key here, its secret sealed as `client_secret`).

use serde::{Deserialize, Serialize};

/// Where tokens are asked for unless a connection says otherwise (a My
/// Domain or sandbox login URL, or a test stand-in).
pub const SALESFORCE_LOGIN_URL: &str = "https://login.salesforce.com";
/// The REST API version used unless a connection says otherwise.
pub const SALESFORCE_API_VERSION: &str = "v60.0";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesforceConfig {
    /// The connected app's consumer key (`client_id`).
    pub client_id: String,
    /// Replaces [`SALESFORCE_LOGIN_URL`]; the token endpoint is
    /// `<login_url>/services/oauth2/token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_url: Option<String>,
    /// `Lead` unless set.
    #[serde(default = "default_object")]
    pub object: String,
    /// Upsert by this external-id field (its value taken from the mapped
    /// body); unset: every delivery creates a record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id_field: Option<String>,
    /// [`SALESFORCE_API_VERSION`] unless set.
    #[serde(default = "default_api_version")]
    pub api_version: String,
}

fn default_object() -> String {
    "Lead".to_string()
}

fn default_api_version() -> String {
    SALESFORCE_API_VERSION.to_string()
}

impl SalesforceConfig {
    pub fn login_url(&self) -> &str {
        self.login_url
            .as_deref()
            .unwrap_or(SALESFORCE_LOGIN_URL)
            .trim_end_matches('/')
    }

    /// The OAuth 2.0 token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/services/oauth2/token", self.login_url())
    }

    /// The sObject endpoint under the `instance_url` a token came with.
    pub fn sobject_url(&self, instance_url: &str) -> String {
        format!(
            "{}/services/data/{}/sobjects/{}",
            instance_url.trim_end_matches('/'),
            self.api_version,
            self.object
        )
    }
}
