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
use switchyard_core::connection::{ConnectionKind, SalesforceConfig};

use super::{Context, Destination, Sent, json_headers, secret_header, text_of};
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

    /// Method, URL and body of the record request under `instance_url`.
    pub fn record_request(
        &self,
        instance_url: &str,
        payload: &serde_json::Value,
    ) -> Result<(reqwest::Method, String, serde_json::Value), SendError> {
        let mut fields = payload.as_object().cloned().ok_or_else(|| {
            SendError::Unsendable("a Salesforce record's mapping must build a JSON object".into())
        })?;
        let base = self.config.sobject_url(instance_url);
        let Some(external) = &self.config.external_id_field else {
            let body = serde_json::Value::Object(fields);
            return Ok((reqwest::Method::POST, format!("{base}/"), body));
        };
        let value = fields
            .remove(external)
            .as_ref()
            .and_then(text_of)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| {
                SendError::Unsendable(format!(
                    "the mapped record has no `{external}` to upsert by"
                ))
            })?;
        let mut url = url::Url::parse(&base)
            .map_err(|error| SendError::Invalid(format!("instance_url: {error}")))?;
        url.path_segments_mut()
            .map_err(|()| SendError::Invalid("instance_url cannot be a base".into()))?
            .push(external)
            .push(&value);
        Ok((
            reqwest::Method::PATCH,
            url.to_string(),
            serde_json::Value::Object(fields),
        ))
    }

    fn outbound(
        &self,
        context: &Context<'_>,
        access_token: &str,
        instance_url: &str,
    ) -> Result<Outbound, SendError> {
        let (method, url, body) = self.record_request(instance_url, context.payload)?;
        let mut headers = json_headers(context.traceparent);
        headers.insert(
            reqwest::header::AUTHORIZATION,
            secret_header(&format!("Bearer {access_token}"))?,
        );
        Ok(Outbound {
            method,
            url,
            headers,
            body: serde_json::to_vec(&body)
                .map_err(|error| SendError::Invalid(format!("body: {error}")))?,
            retry_after: standard_retry_after,
        })
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

    /// The record request with a token already cached (tests, previews);
    /// [`Destination::deliver`] is what obtains one.
    fn build(&self, context: &Context<'_>) -> Result<Outbound, SendError> {
        let secret = token::client_secret(context)?;
        let fingerprint = token::fingerprint_of(&self.config, secret);
        let cached = context
            .tokens
            .get(context.connection, &fingerprint)
            .ok_or_else(|| SendError::Invalid("no Salesforce token obtained yet".into()))?;
        self.outbound(
            context,
            cached.access_token.expose_secret(),
            &cached.instance_url,
        )
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
                context.tokens.forget(context.connection);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn salesforce(external: Option<&str>) -> Salesforce {
        Salesforce::new(SalesforceConfig {
            client_id: "3MVG9".into(),
            login_url: None,
            object: "Lead".into(),
            external_id_field: external.map(str::to_string),
            api_version: "v60.0".into(),
        })
    }

    #[test]
    fn creates_or_upserts_by_external_id() {
        let payload =
            serde_json::json!({"LastName": "Lovelace", "Company": "AE", "Ext_Id__c": "a/b 1"});
        let (method, url, body) = salesforce(None)
            .record_request("https://acme.my.salesforce.com", &payload)
            .expect("create");
        assert_eq!(method, reqwest::Method::POST);
        assert_eq!(
            url,
            "https://acme.my.salesforce.com/services/data/v60.0/sobjects/Lead/"
        );
        assert_eq!(body, payload);
        let (method, url, body) = salesforce(Some("Ext_Id__c"))
            .record_request("https://acme.my.salesforce.com/", &payload)
            .expect("upsert");
        assert_eq!(method, reqwest::Method::PATCH);
        assert_eq!(
            url,
            "https://acme.my.salesforce.com/services/data/v60.0/sobjects/Lead/Ext_Id__c/a%2Fb%201"
        );
        assert_eq!(
            body,
            serde_json::json!({"LastName": "Lovelace", "Company": "AE"})
        );
        let missing = salesforce(Some("Ext_Id__c"))
            .record_request("https://x", &serde_json::json!({"LastName": "L"}));
        assert!(matches!(missing, Err(SendError::Unsendable(_))));
    }
}
