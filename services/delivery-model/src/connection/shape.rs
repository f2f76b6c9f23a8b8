//! What each kind's request looks like for one mapped body — method, URL
//! and body — computed in one place for the delivery engine (which adds
//! the credentials and sends it) and for `TestRule` (which shows it with
//! the credentials masked).
//!
//! - webhook: `POST <url>`, the body as mapped;
//! - HubSpot: `POST <base>/crm/v3/objects/contacts/batch/upsert`,
//!   `{"inputs":[{"idProperty","id","properties"}]}`, every top-level field
//!   a property as text;
//! - Mailchimp: `PUT <base>/3.0/lists/<list>/members/<md5(lowercased
//!   email)>`, `{"email_address","status_if_new","merge_fields"}`;
//! - Salesforce: `POST <instance>/services/data/<v>/sobjects/<object>/`, or
//!   `PATCH …/<object>/<external field>/<value>` without that field.

use md5::{Digest, Md5};
use serde_json::{Map, Value};

use super::{HubspotConfig, MailchimpConfig, SalesforceConfig};

/// The contacts upsert endpoint under HubSpot's base URL.
pub const HUBSPOT_UPSERT_PATH: &str = "/crm/v3/objects/contacts/batch/upsert";

/// One request, without credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape {
    pub method: &'static str,
    pub url: String,
    pub body: Value,
}

/// Why a mapped body cannot become the kind's request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// The body itself is wrong for the kind; no retry can fix it.
    #[error("{0}")]
    Unsendable(String),
    /// The connection's settings cannot make the request.
    #[error("{0}")]
    Invalid(String),
}

/// A JSON value as text (numbers and booleans written out), for APIs
/// whose fields are strings.
pub fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn object<'a>(body: &'a Value, what: &str) -> Result<&'a Map<String, Value>, ShapeError> {
    body.as_object()
        .ok_or_else(|| ShapeError::Unsendable(format!("{what}'s mapping must build a JSON object")))
}

pub fn hubspot(config: &HubspotConfig, body: &Value) -> Result<Shape, ShapeError> {
    let mut properties = Map::new();
    for (name, value) in object(body, "a HubSpot contact")? {
        if value.is_null() {
            continue;
        }
        let text = text_of(value).ok_or_else(|| {
            ShapeError::Unsendable(format!(
                "HubSpot property `{name}` is not a string, number or boolean"
            ))
        })?;
        properties.insert(name.clone(), text.into());
    }
    let id_property = &config.id_property;
    let id = properties
        .get(id_property)
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            ShapeError::Unsendable(format!(
                "the mapped contact has no `{id_property}` to upsert by"
            ))
        })?
        .to_string();
    Ok(Shape {
        method: "POST",
        url: format!(
            "{}{HUBSPOT_UPSERT_PATH}",
            config.base_url().trim_end_matches('/')
        ),
        body: serde_json::json!({
            "inputs": [{ "idProperty": id_property, "id": id, "properties": properties }]
        }),
    })
}

/// Mailchimp's id of a member: MD5 of the lowercased email, in hex.
pub fn subscriber_hash(email: &str) -> String {
    Md5::digest(email.to_lowercase().as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// `base` is the API root (from the key's data centre or the override).
pub fn mailchimp(config: &MailchimpConfig, base: &str, body: &Value) -> Result<Shape, ShapeError> {
    let fields = object(body, "a Mailchimp member")?;
    let email = ["email_address", "email"]
        .iter()
        .find_map(|name| fields.get(*name).and_then(Value::as_str))
        .filter(|email| email.contains('@'))
        .ok_or_else(|| ShapeError::Unsendable("the mapped member has no `email_address`".into()))?;
    let merge_fields = match fields.get("merge_fields") {
        Some(Value::Object(merge)) => merge.clone(),
        Some(_) => {
            return Err(ShapeError::Unsendable(
                "`merge_fields` is not an object".into(),
            ));
        }
        None => fields
            .iter()
            .filter(|(name, _)| !matches!(name.as_str(), "email_address" | "email"))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
    };
    Ok(Shape {
        method: "PUT",
        url: format!(
            "{}/3.0/lists/{}/members/{}",
            base.trim_end_matches('/'),
            config.list_id,
            subscriber_hash(email)
        ),
        body: serde_json::json!({
            "email_address": email,
            "status_if_new": config.status_if_new,
            "merge_fields": merge_fields,
        }),
    })
}

/// `instance_url` is the one the token answer named.
pub fn salesforce(
    config: &SalesforceConfig,
    instance_url: &str,
    body: &Value,
) -> Result<Shape, ShapeError> {
    let mut fields = object(body, "a Salesforce record")?.clone();
    let base = config.sobject_url(instance_url);
    let Some(external) = &config.external_id_field else {
        return Ok(Shape {
            method: "POST",
            url: format!("{base}/"),
            body: Value::Object(fields),
        });
    };
    let value = fields
        .remove(external)
        .as_ref()
        .and_then(text_of)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| {
            ShapeError::Unsendable(format!(
                "the mapped record has no `{external}` to upsert by"
            ))
        })?;
    let mut url = url::Url::parse(&base)
        .map_err(|error| ShapeError::Invalid(format!("instance_url: {error}")))?;
    url.path_segments_mut()
        .map_err(|()| ShapeError::Invalid("instance_url cannot be a base".into()))?
        .push(external)
        .push(&value);
    Ok(Shape {
        method: "PATCH",
        url: url.to_string(),
        body: Value::Object(fields),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn hubspot_upserts_by_the_id_property() {
        let config = HubspotConfig {
            base_url: Some("http://127.0.0.1:9/".into()),
            id_property: "email".into(),
            batch: true,
        };
        let shape = hubspot(
            &config,
            &json!({"email": "ada@example.com", "firstname": "Ada", "score": 42, "vip": true, "x": null}),
        )
        .expect("shape");
        assert_eq!(
            shape.url,
            "http://127.0.0.1:9/crm/v3/objects/contacts/batch/upsert"
        );
        assert_eq!(
            shape.body,
            json!({"inputs": [{"idProperty": "email", "id": "ada@example.com",
                "properties": {"email": "ada@example.com", "firstname": "Ada", "score": "42", "vip": "true"}}]})
        );
        for body in [
            json!({"firstname": "Ada"}),
            json!({"email": ""}),
            json!({"email": "a@b.c", "tags": ["x"]}),
            json!("ada@example.com"),
        ] {
            assert!(
                matches!(hubspot(&config, &body), Err(ShapeError::Unsendable(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn mailchimp_members_by_email_hash_with_merge_fields() {
        // md5("urist.mcvankab@freddiesjokes.com"), Mailchimp's own example.
        assert_eq!(
            subscriber_hash("Urist.McVankab@freddiesjokes.com"),
            "62eeb292278cc15f5817cb78f7790b08"
        );
        let config = MailchimpConfig {
            list_id: "57afe96172".into(),
            status_if_new: "subscribed".into(),
            base_url: None,
        };
        let base = "https://us6.api.mailchimp.com";
        let shape = mailchimp(
            &config,
            base,
            &json!({"email": "ada@example.com", "FNAME": "Ada"}),
        )
        .expect("shape");
        assert_eq!(
            shape.url,
            "https://us6.api.mailchimp.com/3.0/lists/57afe96172/members/3e3417d7ef77d5932a6734b916515ed5"
        );
        assert_eq!(
            shape.body,
            json!({"email_address": "ada@example.com", "status_if_new": "subscribed",
                "merge_fields": {"FNAME": "Ada"}})
        );
        let explicit = json!({"email_address": "a@b.c", "merge_fields": {"LNAME": "L"}, "x": 1});
        let shape = mailchimp(&config, base, &explicit).expect("shape");
        assert_eq!(shape.body["merge_fields"], json!({"LNAME": "L"}));
        assert!(matches!(
            mailchimp(&config, base, &json!({"FNAME": "Ada"})),
            Err(ShapeError::Unsendable(_))
        ));
    }

    #[test]
    fn salesforce_creates_or_upserts_by_external_id() {
        let mut config = SalesforceConfig {
            client_id: "3MVG9".into(),
            login_url: None,
            object: "Lead".into(),
            external_id_field: None,
            api_version: "v60.0".into(),
        };
        let body = json!({"LastName": "Lovelace", "Company": "AE", "Ext_Id__c": "a/b 1"});
        let created = salesforce(&config, "https://acme.my.salesforce.com", &body).expect("create");
        assert_eq!(created.method, "POST");
        assert_eq!(
            created.url,
            "https://acme.my.salesforce.com/services/data/v60.0/sobjects/Lead/"
        );
        assert_eq!(created.body, body);
        config.external_id_field = Some("Ext_Id__c".into());
        let upsert = salesforce(&config, "https://acme.my.salesforce.com/", &body).expect("upsert");
        assert_eq!(upsert.method, "PATCH");
        assert_eq!(
            upsert.url,
            "https://acme.my.salesforce.com/services/data/v60.0/sobjects/Lead/Ext_Id__c/a%2Fb%201"
        );
        assert_eq!(
            upsert.body,
            json!({"LastName": "Lovelace", "Company": "AE"})
        );
        let missing = salesforce(&config, "https://x", &json!({"LastName": "L"}));
        assert!(matches!(missing, Err(ShapeError::Unsendable(_))));
    }
}
