//! Subcommands that call the gRPC API as a workspace, with the key from
//! `SWITCHYARD_API_KEY`, endpoints from `SWITCHYARD_*_ENDPOINT` and, for
//! TLS, `SWITCHYARD_CA_CERT` plus optionally `SWITCHYARD_CLIENT_CERT` and
//! `SWITCHYARD_CLIENT_KEY` (see `switchyard_client::Tls::from_env`).

use std::collections::HashMap;
use std::io::Read;

use anyhow::{Context, bail};
use switchyard_client::{Client, Endpoints, Tls, proto};
use switchyard_core::states::DeliveryStatus;

use crate::cli::{ConnectionCommand, ConnectionKindArg, DeliveryCommand};

pub fn client_from_env() -> anyhow::Result<Client> {
    let key = std::env::var("SWITCHYARD_API_KEY").context(
        "set SWITCHYARD_API_KEY to a workspace API key (see `switchyard workspace create`)",
    )?;
    let tls = Tls::from_env()?;
    Ok(Client::connect_lazy_with(
        &Endpoints::from_env(),
        &key,
        tls.as_ref(),
    )?)
}

/// The payload argument of `emit`: `@FILE` reads the file, `-` reads
/// `stdin`, anything else is the JSON itself. A JSON object starts with `{`,
/// so neither form can be mistaken for a payload.
pub fn read_payload(argument: &str, mut stdin: impl Read) -> anyhow::Result<String> {
    if argument == "-" {
        let mut payload = String::new();
        stdin
            .read_to_string(&mut payload)
            .context("reading the payload from standard input")?;
        return Ok(payload);
    }
    match argument.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the payload from {path}")),
        None => Ok(argument.to_string()),
    }
}

fn status_error(status: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{:?}: {}", status.code(), status.message())
}

pub async fn emit(
    client: &Client,
    event_type: String,
    payload: String,
    idempotency_key: Option<String>,
) -> anyhow::Result<()> {
    let response = client
        .emit_event(proto::EmitEventRequest {
            event_type,
            payload_json: payload,
            idempotency_key: idempotency_key.unwrap_or_default(),
            schema_version: 0,
        })
        .await
        .map_err(status_error)?;
    let note = if response.duplicate {
        " (duplicate of an earlier emit)"
    } else {
        ""
    };
    println!(
        "{} (schema version {}){note}",
        response.event_id, response.schema_version
    );
    Ok(())
}

/// `workspace retention`: sets the periods and prints them as stored.
pub async fn set_retention(
    client: &Client,
    days: u32,
    payload_days: Option<u32>,
) -> anyhow::Result<()> {
    let workspace = client
        .set_retention(days, payload_days.unwrap_or(0))
        .await
        .map_err(status_error)?;
    println!(
        "{} {}: history kept {} days, payloads {} days",
        workspace.id, workspace.slug, workspace.retention_days, workspace.payload_retention_days
    );
    Ok(())
}

pub async fn connections(client: &Client, command: ConnectionCommand) -> anyhow::Result<()> {
    match command {
        ConnectionCommand::Create {
            kind: ConnectionKindArg::Webhook,
            name,
            url,
            headers,
            ..
        } => {
            let url = url.unwrap_or_default();
            let headers = parse_headers(&headers)?;
            let connection = client
                .create_webhook(&name, &url, headers)
                .await
                .map_err(status_error)?;
            println!("{} {} -> {url}", connection.id, connection.name);
            println!("signing secret (shown only now):");
            println!("{}", connection.signing_secret);
        }
        ConnectionCommand::Create {
            kind,
            name,
            token,
            id_property,
            api_key,
            list_id,
            status_if_new,
            client_id,
            client_secret,
            object,
            external_id_field,
            base_url,
            url,
            username,
            password,
            nats_token,
            exchange,
            routing_key,
            subject,
            routed_by_mapping,
            ..
        } => {
            use proto::create_connection_request::Destination;
            let base_url = base_url.unwrap_or_default();
            let destination = match kind {
                ConnectionKindArg::Hubspot => Destination::Hubspot(proto::HubspotConfig {
                    token: token.unwrap_or_default(),
                    id_property: id_property.unwrap_or_default(),
                    base_url,
                    no_batching: false,
                }),
                ConnectionKindArg::Salesforce => Destination::Salesforce(proto::SalesforceConfig {
                    client_id: client_id.unwrap_or_default(),
                    client_secret: client_secret.unwrap_or_default(),
                    login_url: base_url,
                    object: object.unwrap_or_default(),
                    external_id_field: external_id_field.unwrap_or_default(),
                    api_version: String::new(),
                }),
                ConnectionKindArg::Rabbitmq => Destination::Rabbitmq(proto::RabbitmqConfig {
                    url: url.unwrap_or_default(),
                    username: username.unwrap_or_default(),
                    password: password.unwrap_or_default(),
                    exchange: exchange.unwrap_or_default(),
                    routing_key: routing_key.unwrap_or_default(),
                    routed_by_mapping,
                }),
                ConnectionKindArg::Nats => Destination::Nats(proto::NatsConfig {
                    url: url.unwrap_or_default(),
                    username: username.unwrap_or_default(),
                    password: password.unwrap_or_default(),
                    token: nats_token.unwrap_or_default(),
                    subject: subject.unwrap_or_default(),
                    routed_by_mapping,
                }),
                _ => Destination::Mailchimp(proto::MailchimpConfig {
                    api_key: api_key.unwrap_or_default(),
                    list_id: list_id.unwrap_or_default(),
                    status_if_new: status_if_new.unwrap_or_default(),
                    base_url,
                }),
            };
            let connection = client
                .create_connection(&name, destination, None)
                .await
                .map_err(status_error)?;
            println!(
                "{} {} ({})",
                connection.id, connection.name, connection.kind
            );
        }
        ConnectionCommand::RotateSecret { id, grace } => {
            let response = client
                .rotate_signing_secret(&id, Some(grace))
                .await
                .map_err(status_error)?;
            match response.previous_secret_expires_at {
                Some(at) => println!(
                    "{id}: new signing secret; the previous one also signs until {}",
                    chrono::DateTime::from_timestamp(at.seconds, 0)
                        .map(|at| at.to_rfc3339())
                        .unwrap_or_default()
                ),
                None => println!("{id}: new signing secret; the previous one is revoked"),
            }
            println!("signing secret (shown only now):");
            println!("{}", response.signing_secret);
        }
        ConnectionCommand::List => {
            let response = client
                .router
                .clone()
                .list_connections(proto::ListConnectionsRequest::default())
                .await
                .map_err(status_error)?
                .into_inner();
            for connection in response.connections {
                let url = connection.webhook.map(|w| w.url).unwrap_or_default();
                println!(
                    "{}  {}  {}  {url}",
                    connection.id, connection.kind, connection.name
                );
            }
        }
    }
    Ok(())
}

fn parse_headers(headers: &[String]) -> anyhow::Result<HashMap<String, String>> {
    headers
        .iter()
        .map(|header| match header.split_once(':') {
            Some((name, value)) => Ok((name.trim().to_string(), value.trim().to_string())),
            None => bail!("header `{header}` must look like `Name: value`"),
        })
        .collect()
}

pub async fn deliveries(client: &Client, command: DeliveryCommand) -> anyhow::Result<()> {
    match command {
        DeliveryCommand::List { event_id } => {
            for delivery in client
                .list_deliveries(&event_id)
                .await
                .map_err(status_error)?
            {
                println!("{}", describe_delivery(&delivery));
            }
        }
        DeliveryCommand::Show { id } => {
            let response = client.get_delivery(&id).await.map_err(status_error)?;
            print!("{}", describe_delivery_with_attempts(&response));
        }
    }
    Ok(())
}

/// The status as stored and shown everywhere (`dead`); `unknown` for
/// UNSPECIFIED or a number no status has.
pub fn status_name(status: i32) -> &'static str {
    proto::DeliveryStatus::try_from(status)
        .ok()
        .and_then(|status| DeliveryStatus::try_from(status).ok())
        .map_or("unknown", DeliveryStatus::as_str)
}

pub fn describe_delivery(delivery: &proto::Delivery) -> String {
    format!(
        "{}  event {} -> connection {}  status={} attempts={}",
        delivery.id,
        delivery.event_id,
        delivery.connection_id,
        status_name(delivery.status),
        delivery.attempt_count
    )
}

pub fn describe_delivery_with_attempts(response: &proto::GetDeliveryResponse) -> String {
    let mut text = String::new();
    if let Some(delivery) = &response.delivery {
        text.push_str(&describe_delivery(delivery));
        text.push('\n');
        if !delivery.last_error.is_empty() {
            text.push_str(&format!("  last error: {}\n", delivery.last_error));
        }
        match (delivery.trace_id.as_str(), delivery.trace_url.as_str()) {
            // Say why, rather than leave the reader looking for the line.
            ("", _) => text.push_str(
                "  trace: none (the services export traces only with an OTLP endpoint: \
                 OTEL_EXPORTER_OTLP_ENDPOINT)\n",
            ),
            (trace_id, "") => text.push_str(&format!("  trace: {trace_id}\n")),
            (_, url) => text.push_str(&format!("  trace: {url}\n")),
        }
    }
    for attempt in &response.attempts {
        let started = attempt
            .started_at
            .as_ref()
            .and_then(|t| {
                chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
            })
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        let outcome = match (attempt.status_code, attempt.error.as_str()) {
            (0, error) => format!("no response: {error}"),
            (code, "") => format!("HTTP {code}"),
            (code, error) => format!("HTTP {code}: {error}"),
        };
        text.push_str(&format!(
            "  attempt {} at {started}: {outcome} in {} ms\n",
            attempt.attempt, attempt.duration_ms
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_comes_from_the_argument_a_file_or_stdin() -> anyhow::Result<()> {
        let literal = read_payload(r#"{"id":"lead_1"}"#, std::io::empty())?;
        assert_eq!(literal, r#"{"id":"lead_1"}"#);
        let piped = read_payload("-", r#"{"from":"stdin"}"#.as_bytes())?;
        assert_eq!(piped, r#"{"from":"stdin"}"#);
        let path = std::env::temp_dir().join(format!("sy-payload-{}.json", std::process::id()));
        std::fs::write(&path, r#"{"from":"file"}"#)?;
        let from_file = read_payload(&format!("@{}", path.display()), std::io::empty());
        std::fs::remove_file(&path)?;
        assert_eq!(from_file?, r#"{"from":"file"}"#);
        let Err(missing) = read_payload("@/nonexistent/payload.json", std::io::empty()) else {
            panic!("a missing file was read");
        };
        assert_eq!(
            format!("{missing:#}").split(": ").next(),
            Some("reading the payload from /nonexistent/payload.json")
        );
        Ok(())
    }
}
