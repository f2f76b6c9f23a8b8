//! HubSpot: create or update one CRM contact by a unique property
//! (`email` unless the connection says otherwise) with the documented
//! batch upsert, `POST /crm/v3/objects/contacts/batch/upsert`
//! (`{"inputs":[{"idProperty","id","properties"}]}`), authenticated by a
//! private-app token as `Authorization: Bearer …`.
//!
//! The rule's mapping builds the contact's `properties`: every top-level
//! field of the mapped body, as text. [`answer`] reads HubSpot's answers.

mod answer;

use secrecy::ExposeSecret;
use switchyard_core::connection::{ConnectionKind, HubspotConfig};

use super::{Context, Destination, json_headers, secret_header, text_of};
use crate::engine::http::{HttpResponse, Outbound, SendError, SendResult};
use crate::engine::retry::{RetryAction, RetryLogic};

/// The contacts upsert endpoint under the API's base URL.
pub const UPSERT_PATH: &str = "/crm/v3/objects/contacts/batch/upsert";

pub struct Hubspot {
    config: HubspotConfig,
}

impl Hubspot {
    pub fn new(config: HubspotConfig) -> Self {
        Self { config }
    }

    /// The upsert body for one mapped body.
    pub fn upsert_body(&self, payload: &serde_json::Value) -> Result<serde_json::Value, SendError> {
        let fields = payload.as_object().ok_or_else(|| {
            SendError::Unsendable("a HubSpot contact's mapping must build a JSON object".into())
        })?;
        let mut properties = serde_json::Map::new();
        for (name, value) in fields {
            if value.is_null() {
                continue;
            }
            let text = text_of(value).ok_or_else(|| {
                SendError::Unsendable(format!(
                    "HubSpot property `{name}` is not a string, number or boolean"
                ))
            })?;
            properties.insert(name.clone(), text.into());
        }
        let id_property = &self.config.id_property;
        let id = properties
            .get(id_property)
            .and_then(|value| value.as_str())
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                SendError::Unsendable(format!(
                    "the mapped contact has no `{id_property}` to upsert by"
                ))
            })?
            .to_string();
        Ok(serde_json::json!({
            "inputs": [{ "idProperty": id_property, "id": id, "properties": properties }]
        }))
    }
}

impl Destination for Hubspot {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Hubspot
    }

    fn target(&self) -> String {
        format!(
            "{}{UPSERT_PATH}",
            self.config.base_url().trim_end_matches('/')
        )
    }

    fn build(&self, context: &Context<'_>) -> Result<Outbound, SendError> {
        let token = context
            .credentials
            .token
            .as_ref()
            .ok_or_else(|| SendError::Invalid("the connection has no HubSpot token".into()))?;
        let body = self.upsert_body(context.payload)?;
        let mut headers = json_headers(context.traceparent);
        let bearer = format!("Bearer {}", token.expose_secret());
        headers.insert(reqwest::header::AUTHORIZATION, secret_header(&bearer)?);
        Ok(Outbound {
            method: reqwest::Method::POST,
            url: self.target(),
            headers,
            body: serde_json::to_vec(&body)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn hubspot() -> Hubspot {
        Hubspot::new(HubspotConfig {
            base_url: Some("http://127.0.0.1:9/".into()),
            id_property: "email".into(),
        })
    }

    #[test]
    fn builds_the_documented_upsert() {
        let body = hubspot()
            .upsert_body(&serde_json::json!({
                "email": "ada@example.com", "firstname": "Ada", "score": 42, "vip": true, "x": null
            }))
            .expect("body");
        assert_eq!(
            body,
            serde_json::json!({"inputs": [{
                "idProperty": "email",
                "id": "ada@example.com",
                "properties": {"email": "ada@example.com", "firstname": "Ada", "score": "42", "vip": "true"}
            }]})
        );
        assert_eq!(
            hubspot().target(),
            "http://127.0.0.1:9/crm/v3/objects/contacts/batch/upsert"
        );
    }

    #[test]
    fn bodies_without_an_id_or_with_nested_values_are_unsendable() {
        for payload in [
            serde_json::json!({"firstname": "Ada"}),
            serde_json::json!({"email": ""}),
            serde_json::json!({"email": "a@b.c", "tags": ["x"]}),
            serde_json::json!("ada@example.com"),
        ] {
            assert!(
                matches!(
                    hubspot().upsert_body(&payload),
                    Err(SendError::Unsendable(_))
                ),
                "{payload}"
            );
        }
    }
}
