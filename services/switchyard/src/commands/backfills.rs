//! `switchyard rules backfill` and `switchyard backfills …`: backfills
//! against the router.
//!
//! [`start`] asks `BackfillRule` and, unless `--no-wait`, follows the
//! backfill with `GetBackfill` twice a second, drawing a progress bar
//! (indicatif, on stderr, hidden when stderr is not a terminal) until it
//! completes, fails or is cancelled; the summary goes to stdout. `get`,
//! `list` and `cancel` print one line per backfill, or JSON with `--json`.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use switchyard_client::{Client, proto};

fn status_error(status: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{:?}: {}", status.code(), status.message())
}

/// `switchyard rules backfill`.
#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// The rule: its id (`rul_…`) or its name.
    pub rule: String,
    /// Events received at or after this time (RFC 3339, e.g.
    /// 2026-12-01T00:00:00Z).
    #[arg(long, value_parser = parse_time)]
    pub from: DateTime<Utc>,
    /// Events received before this time (RFC 3339); now when omitted.
    #[arg(long, value_parser = parse_time)]
    pub to: Option<DateTime<Utc>>,
    /// Events routed per second at most (1 to 10000).
    #[arg(long, default_value_t = 100)]
    pub rate: u32,
    /// Print the backfill's id and return instead of following it.
    #[arg(long)]
    pub no_wait: bool,
    /// Print the backfill as JSON (when finished, or at once with --no-wait).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum BackfillCommand {
    /// A backfill's state and progress.
    Get {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// The workspace's backfills, newest first.
    List {
        /// Only this rule's (`rul_…`).
        #[arg(long)]
        rule: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Stop a running backfill; deliveries it created stay.
    Cancel {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| format!("not an RFC 3339 time ({error}), e.g. 2026-12-01T00:00:00Z"))
}

fn state_name(backfill: &proto::Backfill) -> &'static str {
    match backfill.state() {
        proto::BackfillState::Running => "running",
        proto::BackfillState::Completed => "completed",
        proto::BackfillState::Cancelled => "cancelled",
        proto::BackfillState::Failed => "failed",
        proto::BackfillState::Unspecified => "unknown",
    }
}

fn time_text(time: Option<&prost_types::Timestamp>) -> Option<String> {
    time.and_then(|time| switchyard_core::time::from_proto(time).ok())
        .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// One line: id, rule, state, counters, and the error when it failed.
pub fn describe(backfill: &proto::Backfill) -> String {
    let mut text = format!(
        "{}  {}  {}  {}/{} events ({:.0}%)  created {}  skipped {}  {} .. {}  {}/s",
        backfill.id,
        backfill.rule_id,
        state_name(backfill),
        backfill.events_scanned,
        backfill.events_total,
        backfill.percent,
        backfill.deliveries_created,
        backfill.deliveries_skipped,
        time_text(backfill.from_time.as_ref()).unwrap_or_default(),
        time_text(backfill.to_time.as_ref()).unwrap_or_default(),
        backfill.rate_per_second,
    );
    if !backfill.error.is_empty() {
        text.push_str(&format!("  error: {}", backfill.error));
    }
    text
}

/// The backfill as a JSON object (field names as in the proto).
pub fn to_json(backfill: &proto::Backfill) -> serde_json::Value {
    serde_json::json!({
        "id": backfill.id,
        "rule_id": backfill.rule_id,
        "state": state_name(backfill),
        "from_time": time_text(backfill.from_time.as_ref()),
        "to_time": time_text(backfill.to_time.as_ref()),
        "rate_per_second": backfill.rate_per_second,
        "events_total": backfill.events_total,
        "events_scanned": backfill.events_scanned,
        "events_matched": backfill.events_matched,
        "deliveries_created": backfill.deliveries_created,
        "deliveries_skipped": backfill.deliveries_skipped,
        "percent": backfill.percent,
        "eta_seconds": backfill.eta.as_ref().map(|eta| eta.seconds),
        "error": backfill.error,
        "created_at": time_text(backfill.created_at.as_ref()),
        "updated_at": time_text(backfill.updated_at.as_ref()),
        "finished_at": time_text(backfill.finished_at.as_ref()),
    })
}

fn print(out: &mut impl Write, backfill: &proto::Backfill, json: bool) -> anyhow::Result<()> {
    if json {
        writeln!(out, "{}", to_json(backfill))?;
    } else {
        writeln!(out, "{}", describe(backfill))?;
    }
    Ok(())
}

/// A rule id as given, or the id of the rule with that name.
async fn resolve_rule(client: &Client, rule: &str) -> anyhow::Result<String> {
    if rule.starts_with("rul_") {
        return Ok(rule.to_string());
    }
    super::rules::apply::all_rules(client)
        .await?
        .into_iter()
        .find(|candidate| candidate.name == rule)
        .map(|found| found.id)
        .with_context(|| format!("no rule is named `{rule}` (give its name or its rul_… id)"))
}

async fn get(client: &Client, id: &str) -> anyhow::Result<proto::Backfill> {
    client
        .router
        .clone()
        .get_backfill(proto::GetBackfillRequest { id: id.to_string() })
        .await
        .map_err(status_error)?
        .into_inner()
        .backfill
        .context("the router answered without a backfill")
}

/// Starts the backfill and, unless `--no-wait`, follows it to its end.
pub async fn start(client: &Client, args: BackfillArgs) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let rule_id = resolve_rule(client, &args.rule).await?;
    let to = args.to.unwrap_or_else(Utc::now);
    let started = client
        .router
        .clone()
        .backfill_rule(proto::BackfillRuleRequest {
            rule_id,
            from_time: Some(switchyard_core::time::to_proto(args.from)),
            to_time: Some(switchyard_core::time::to_proto(to)),
            rate_per_second: args.rate,
        })
        .await
        .map_err(status_error)?
        .into_inner()
        .backfill
        .context("the router answered without a backfill")?;
    if args.no_wait {
        if args.json {
            print(&mut out, &started, true)?;
        } else {
            writeln!(out, "{}", started.id)?;
        }
        return Ok(());
    }
    let done = follow(client, started).await?;
    print(&mut out, &done, args.json)?;
    match done.state() {
        proto::BackfillState::Completed => Ok(()),
        _ => anyhow::bail!("backfill {} {}: {}", done.id, state_name(&done), done.error),
    }
}

/// Polls the backfill until it is no longer running, with a progress bar.
async fn follow(client: &Client, mut backfill: proto::Backfill) -> anyhow::Result<proto::Backfill> {
    let bar = ProgressBar::new(backfill.events_total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} events ({percent}%) {msg}",
        )
        .context("progress bar template")?,
    );
    while backfill.state() == proto::BackfillState::Running {
        bar.set_length(backfill.events_total.max(backfill.events_scanned));
        bar.set_position(backfill.events_scanned);
        let eta = backfill
            .eta
            .as_ref()
            .map(|eta| format!(", eta {}s", eta.seconds))
            .unwrap_or_default();
        bar.set_message(format!(
            "created {} skipped {}{eta}",
            backfill.deliveries_created, backfill.deliveries_skipped
        ));
        tokio::time::sleep(Duration::from_millis(500)).await;
        backfill = get(client, &backfill.id).await?;
    }
    bar.set_position(backfill.events_scanned);
    bar.finish_and_clear();
    Ok(backfill)
}

pub async fn run(client: &Client, command: BackfillCommand) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        BackfillCommand::Get { id, json } => print(&mut out, &get(client, &id).await?, json)?,
        BackfillCommand::List { rule, json } => {
            let mut page_token = String::new();
            let mut all = Vec::new();
            loop {
                let page = client
                    .router
                    .clone()
                    .list_backfills(proto::ListBackfillsRequest {
                        rule_id: rule.clone().unwrap_or_default(),
                        page_size: 500,
                        page_token,
                    })
                    .await
                    .map_err(status_error)?
                    .into_inner();
                all.extend(page.backfills);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            if json {
                let list: Vec<serde_json::Value> = all.iter().map(to_json).collect();
                writeln!(out, "{}", serde_json::Value::Array(list))?;
            } else {
                for backfill in &all {
                    writeln!(out, "{}", describe(backfill))?;
                }
            }
        }
        BackfillCommand::Cancel { id, json } => {
            let cancelled = client
                .router
                .clone()
                .cancel_backfill(proto::CancelBackfillRequest { id })
                .await
                .map_err(status_error)?
                .into_inner()
                .backfill
                .context("the router answered without a backfill")?;
            print(&mut out, &cancelled, json)?;
        }
    }
    Ok(())
}
