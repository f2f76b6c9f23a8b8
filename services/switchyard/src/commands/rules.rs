//! `switchyard rules …`: rules against the router.
//!
//! `create` and `list` manage rules one at a time; `apply` makes the
//! workspace's named rules match a YAML file (see [`apply`]); `test` asks
//! `TestEvent` what every rule would do with a payload and prints each
//! rule's outcome — the "why didn't this webhook fire?" answer.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use switchyard_client::{Client, proto};

pub mod apply;

fn status_error(status: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{:?}: {}", status.code(), status.message())
}

#[derive(Debug, Subcommand)]
pub enum RuleCommand {
    /// Send EVENT_TYPE events (`lead.created`, `lead.*`, `*`) to CONNECTION.
    Create {
        #[arg(long)]
        event_type: String,
        #[arg(long)]
        connection: String,
        /// CEL condition over `event`, e.g. `event.payload.amount > 100`.
        #[arg(long, default_value = "")]
        condition: String,
        /// CEL mapping building the body, e.g. `{"email": event.payload.email}`.
        #[arg(long, default_value = "")]
        mapping: String,
        /// CEL naming the delivery's ordering key, e.g.
        /// `event.payload.account_id`; honoured by connections whose policy
        /// turns ordering on.
        #[arg(long, default_value = "")]
        ordering_key: String,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// Create the rule disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// Every rule of the workspace, with its condition and mapping.
    List,
    /// Make the workspace's named rules match FILE (YAML): create, update
    /// and delete, printing each change. Rules without a name are left alone.
    Apply {
        file: PathBuf,
        /// Print the changes without making them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show what every rule would do with an EVENT_TYPE event carrying the
    /// payload in PAYLOAD (a JSON file).
    Test {
        event_type: String,
        payload: PathBuf,
    },
}

pub async fn run(client: &Client, command: RuleCommand) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        RuleCommand::Create {
            event_type,
            connection,
            condition,
            mapping,
            ordering_key,
            name,
            description,
            disabled,
        } => {
            let request = proto::CreateRuleRequest {
                event_type,
                connection_id: connection,
                description,
                condition,
                mapping,
                enabled: Some(!disabled),
                name,
                ordering_key,
            };
            let rule = client
                .router
                .clone()
                .create_rule(request)
                .await
                .map_err(status_error)?
                .into_inner()
                .rule
                .unwrap_or_default();
            writeln!(out, "{}", describe_rule(&rule))?;
        }
        RuleCommand::List => {
            for rule in apply::all_rules(client).await? {
                writeln!(out, "{}", describe_rule(&rule))?;
            }
        }
        RuleCommand::Apply { file, dry_run } => {
            let desired = apply::read_file(&file)?;
            apply::apply(client, &desired, dry_run, &mut out).await?;
        }
        RuleCommand::Test {
            event_type,
            payload,
        } => {
            test(client, &event_type, &payload, &mut out).await?;
        }
    }
    Ok(())
}

pub fn describe_rule(rule: &proto::Rule) -> String {
    let name = if rule.name.is_empty() {
        "-"
    } else {
        &rule.name
    };
    let mut text = format!(
        "{}  {name}  {} -> {}  enabled={}",
        rule.id, rule.event_type, rule.connection_id, rule.enabled
    );
    if !rule.condition.is_empty() {
        text.push_str(&format!("\n  condition: {}", rule.condition));
    }
    if !rule.mapping.is_empty() {
        text.push_str(&format!("\n  mapping: {}", rule.mapping));
    }
    if !rule.ordering_key.is_empty() {
        text.push_str(&format!("\n  ordering key: {}", rule.ordering_key));
    }
    text
}

/// One line per rule: matched with its body, failed with its error, or
/// why it did not match.
pub fn describe_outcome(outcome: &proto::RuleOutcome) -> String {
    let name = if outcome.rule_name.is_empty() {
        "-"
    } else {
        &outcome.rule_name
    };
    let head = format!(
        "{}  {name}  {} -> {}",
        outcome.rule_id, outcome.event_type, outcome.connection_id
    );
    if outcome.matched {
        format!("{head}  MATCHED  body: {}", outcome.body_json)
    } else if !outcome.error.is_empty() {
        format!("{head}  FAILED  {}", outcome.error)
    } else {
        format!("{head}  no match: {}", outcome.reason)
    }
}

pub async fn test(
    client: &Client,
    event_type: &str,
    payload: &Path,
    out: &mut impl Write,
) -> anyhow::Result<Vec<proto::RuleOutcome>> {
    let payload_json = std::fs::read_to_string(payload)
        .with_context(|| format!("reading {}", payload.display()))?;
    let outcomes = client
        .router
        .clone()
        .test_event(proto::TestEventRequest {
            event_type: event_type.to_string(),
            payload_json,
        })
        .await
        .map_err(status_error)?
        .into_inner()
        .outcomes;
    if outcomes.is_empty() {
        writeln!(out, "the workspace has no rules")?;
    }
    for outcome in &outcomes {
        writeln!(out, "{}", describe_outcome(outcome))?;
    }
    let matched = outcomes.iter().filter(|o| o.matched).count();
    writeln!(out, "{matched} of {} rules would deliver", outcomes.len())?;
    Ok(outcomes)
}
