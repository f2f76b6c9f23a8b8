//! The demo's SaaS half: HubSpot, Mailchimp and Salesforce connections
//! pointed at the local stand-ins (`crate::standins`), each with a rule
//! whose mapping projects the lead into that API's shape.

use anyhow::Context;
use switchyard_client::{Client, proto};

use crate::standins::Received;

/// The three connections and their rules; returns their names.
pub async fn connect(
    client: &Client,
    base_url: &str,
    event_type: &str,
) -> anyhow::Result<Vec<String>> {
    use proto::create_connection_request::Destination;
    let connections = [
        (
            "HubSpot (stand-in)",
            Destination::Hubspot(proto::HubspotConfig {
                token: "pat-demo-not-a-real-token".into(),
                id_property: String::new(),
                base_url: base_url.into(),
                no_batching: false,
            }),
            r#"{"email": event.payload.email, "firstname": event.payload.firstName, "lastname": event.payload.lastName, "hs_lead_status": "NEW"}"#,
        ),
        (
            "Mailchimp (stand-in)",
            Destination::Mailchimp(proto::MailchimpConfig {
                api_key: "demo0000000000000000000000000000-us6".into(),
                list_id: "57afe96172".into(),
                status_if_new: String::new(),
                base_url: base_url.into(),
            }),
            r#"{"email_address": event.payload.email, "merge_fields": {"FNAME": event.payload.firstName, "LNAME": event.payload.lastName}}"#,
        ),
        (
            "Salesforce (stand-in)",
            Destination::Salesforce(proto::SalesforceConfig {
                client_id: "3MVG9demo".into(),
                client_secret: "demo-secret".into(),
                login_url: base_url.into(),
                ..Default::default()
            }),
            r#"{"FirstName": event.payload.firstName, "LastName": event.payload.lastName, "Email": event.payload.email, "Company": "Unknown", "LeadSource": event.payload.source}"#,
        ),
    ];
    let mut names = Vec::new();
    for (name, destination, mapping) in connections {
        let connection = client
            .router
            .clone()
            .create_connection(proto::CreateConnectionRequest {
                name: name.into(),
                destination: Some(destination),
                policy: None,
            })
            .await
            .with_context(|| format!("creating the {name} connection"))?
            .into_inner()
            .connection
            .context("the router answered without the connection")?;
        client
            .router
            .clone()
            .create_rule(proto::CreateRuleRequest {
                event_type: event_type.into(),
                connection_id: connection.id.clone(),
                mapping: mapping.into(),
                ..Default::default()
            })
            .await
            .with_context(|| format!("creating the rule to {name}"))?;
        crate::demo::step(&format!(
            "connection {} ({}) with its mapping: {mapping}",
            connection.id, name
        ));
        names.push(name.to_string());
    }
    Ok(names)
}

/// How the demo prints what a stand-in received; the token request's form
/// carries the client secret, so only its route is shown.
pub fn describe(received: &Received) -> String {
    if received.path == "/services/oauth2/token" {
        return format!(
            "{} stand-in got: {} {} (client-credentials token request)",
            received.api, received.method, received.path
        );
    }
    format!(
        "{} stand-in got: {} {} authorization: {} body: {}",
        received.api, received.method, received.path, received.authorization, received.body
    )
}
