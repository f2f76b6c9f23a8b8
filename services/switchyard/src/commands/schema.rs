//! `switchyard schema …`: schema tooling against the registry, for people
//! and for CI.
//!
//! `push` registers one file or a directory of `<event_type>.json` files
//! (idempotent: an unchanged schema keeps its version) and says per type
//! what happened; `check` is its dry run (`CheckCompatibility`), exiting
//! non-zero when any schema breaks its type's mode; `list`, `show`,
//! `compatibility` and `deprecate` read and change event types; `codegen`
//! writes typed events for TypeScript, Python or Rust ([`codegen`]). Modes
//! are the public `proto::Compatibility`, spelt on the command line by
//! [`mode`]. The command
//! functions write to any `Write` and return a [`Report`], so tests can run
//! them against a live registry; [`run`] turns a failing report into a
//! non-zero exit.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use switchyard_client::{Client, proto};
use tonic::Code;
use tonic_types::StatusExt;

use self::mode::parse_mode;

pub use manage::{deprecate, event_types, list, schema_version, set_compatibility, show};

pub mod codegen;
mod manage;
mod mode;

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Register FILE for EVENT_TYPE, or every `<event_type>.json` in --dir.
    /// Unchanged schemas keep their version; prints what changed per type.
    #[command(visible_alias = "register")]
    Push {
        #[command(flatten)]
        target: SchemaTarget,
        /// The event type's description (replaces the current one).
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Dry run of push: exits non-zero when a schema would be refused (for CI).
    Check {
        #[command(flatten)]
        target: SchemaTarget,
    },
    /// List the workspace's event types.
    List,
    /// Show an event type and one version's schema (the latest by default).
    Show {
        event_type: String,
        #[arg(long)]
        version: Option<u32>,
    },
    /// Set the compatibility mode later versions are checked against.
    Compatibility {
        event_type: String,
        #[arg(value_parser = parse_mode)]
        mode: proto::Compatibility,
    },
    /// Write one type per registered event type and version, with typed
    /// emit helpers, for the TypeScript, Python or Rust SDK.
    Codegen {
        #[arg(long, value_enum)]
        lang: codegen::Lang,
        /// The directory the files are written to (created if missing).
        #[arg(long, default_value = "switchyard_events")]
        out: PathBuf,
    },
    /// Mark an event type deprecated (emits are still accepted), or lift it.
    Deprecate {
        event_type: String,
        /// Why, and what to use instead.
        #[arg(long, default_value = "")]
        reason: String,
        /// Lift the deprecation.
        #[arg(long)]
        undo: bool,
    },
}

/// One schema file and its type, or a directory of them.
#[derive(Debug, Args)]
pub struct SchemaTarget {
    /// The event type, e.g. `lead.created` (with FILE).
    #[arg(
        required_unless_present = "dir",
        conflicts_with = "dir",
        requires = "file"
    )]
    pub event_type: Option<String>,
    /// A JSON Schema document.
    pub file: Option<PathBuf>,
    /// A directory holding one `<event_type>.json` per type.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// BACKWARD (default), BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE,
    /// FULL, FULL_TRANSITIVE or NONE. push: the mode of types it creates (an
    /// existing type's mode must match; change it with `schema
    /// compatibility`). check: the mode to check instead of each type's own.
    #[arg(long, value_parser = parse_mode)]
    pub compatibility: Option<proto::Compatibility>,
}

/// What happened to one event type.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Created(u32),
    Unchanged(u32),
    /// check: registering would add a version after these.
    Compatible {
        checked_versions: Vec<u32>,
    },
    /// check: the type does not exist yet.
    NewType,
    /// Refused by the registry's compatibility rules (or a mode mismatch):
    /// one line per incompatibility.
    Refused(Vec<String>),
    /// Not checked at all: unreadable file, invalid schema, …
    Failed(String),
}

impl Outcome {
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Refused(_) | Outcome::Failed(_))
    }
}

/// Per event type, in the order handled.
#[derive(Debug, Default)]
pub struct Report {
    pub outcomes: Vec<(String, Outcome)>,
}

impl Report {
    pub fn failures(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|(_, outcome)| outcome.is_failure())
            .count()
    }
}

pub async fn run(client: &Client, command: SchemaCommand) -> anyhow::Result<()> {
    let mut out = std::io::stdout();
    let report = match command {
        SchemaCommand::Push {
            target,
            description,
        } => push(client, &target, &description, &mut out).await?,
        SchemaCommand::Check { target } => check(client, &target, &mut out).await?,
        SchemaCommand::List => return list(client, &mut out).await,
        SchemaCommand::Show {
            event_type,
            version,
        } => return show(client, &event_type, version.unwrap_or(0), &mut out).await,
        SchemaCommand::Compatibility { event_type, mode } => {
            return set_compatibility(client, &event_type, mode, &mut out).await;
        }
        SchemaCommand::Deprecate {
            event_type,
            reason,
            undo,
        } => return deprecate(client, &event_type, !undo, &reason, &mut out).await,
        SchemaCommand::Codegen { lang, out: dir } => {
            return codegen::codegen(client, lang, &dir, &mut out).await;
        }
    };
    match report.failures() {
        0 => Ok(()),
        failures => bail!(
            "{failures} of {} schemas did not pass",
            report.outcomes.len()
        ),
    }
}

/// Registers each target schema, printing one line (plus reasons) per type.
pub async fn push(
    client: &Client,
    target: &SchemaTarget,
    description: &str,
    out: &mut dyn Write,
) -> anyhow::Result<Report> {
    let mut report = Report::default();
    for (event_type, file) in files(target)? {
        let outcome = match std::fs::read_to_string(&file) {
            Err(error) => Outcome::Failed(format!("reading {}: {error}", file.display())),
            Ok(json_schema) => {
                let request = proto::RegisterSchemaRequest {
                    event_type: event_type.clone(),
                    json_schema,
                    description: description.to_string(),
                    compatibility: target
                        .compatibility
                        .unwrap_or(proto::Compatibility::Unspecified)
                        .into(),
                };
                match client.registry.clone().register_schema(request).await {
                    Ok(response) if response.get_ref().unchanged => {
                        Outcome::Unchanged(response.get_ref().version)
                    }
                    Ok(response) => Outcome::Created(response.get_ref().version),
                    Err(status) => refusal(&status),
                }
            }
        };
        print_outcome(out, &event_type, &outcome)?;
        report.outcomes.push((event_type, outcome));
    }
    Ok(report)
}

/// The dry run of [`push`].
pub async fn check(
    client: &Client,
    target: &SchemaTarget,
    out: &mut dyn Write,
) -> anyhow::Result<Report> {
    let mut report = Report::default();
    for (event_type, file) in files(target)? {
        let outcome = match std::fs::read_to_string(&file) {
            Err(error) => Outcome::Failed(format!("reading {}: {error}", file.display())),
            Ok(json_schema) => {
                let request = proto::CheckCompatibilityRequest {
                    event_type: event_type.clone(),
                    json_schema,
                    compatibility: target
                        .compatibility
                        .unwrap_or(proto::Compatibility::Unspecified)
                        .into(),
                };
                match client.registry.clone().check_compatibility(request).await {
                    Ok(response) => checked(response.into_inner()),
                    Err(status) => refusal(&status),
                }
            }
        };
        print_outcome(out, &event_type, &outcome)?;
        report.outcomes.push((event_type, outcome));
    }
    Ok(report)
}

fn checked(response: proto::CheckCompatibilityResponse) -> Outcome {
    if !response.compatible {
        return Outcome::Refused(
            response
                .incompatibilities
                .iter()
                .map(|found| {
                    format!(
                        "{}: {} (version {})",
                        pointer(&found.path),
                        found.reason,
                        found.version
                    )
                })
                .collect(),
        );
    }
    match (response.unchanged, response.latest_version) {
        (true, latest) => Outcome::Unchanged(latest),
        (false, 0) => Outcome::NewType,
        (false, _) => Outcome::Compatible {
            checked_versions: response.checked_versions,
        },
    }
}

/// A refusal lists each precondition violation; other errors are failures.
fn refusal(status: &tonic::Status) -> Outcome {
    if status.code() != Code::FailedPrecondition {
        return Outcome::Failed(format!("{:?}: {}", status.code(), status.message()));
    }
    let details = status.get_error_details();
    let reasons: Vec<String> = details
        .precondition_failure()
        .map(|failure| {
            failure
                .violations
                .iter()
                .map(|violation| format!("{}: {}", violation.subject, violation.description))
                .collect()
        })
        .unwrap_or_default();
    if reasons.is_empty() {
        Outcome::Refused(vec![status.message().to_string()])
    } else {
        Outcome::Refused(reasons)
    }
}

fn print_outcome(out: &mut dyn Write, event_type: &str, outcome: &Outcome) -> anyhow::Result<()> {
    match outcome {
        Outcome::Created(version) => writeln!(out, "{event_type}: created v{version}")?,
        Outcome::Unchanged(version) => writeln!(out, "{event_type}: unchanged (v{version})")?,
        Outcome::NewType => writeln!(out, "{event_type}: compatible (new event type)")?,
        Outcome::Compatible { checked_versions } => {
            let versions: Vec<String> = checked_versions.iter().map(|v| format!("v{v}")).collect();
            match versions.as_slice() {
                [] => writeln!(out, "{event_type}: compatible (mode NONE)")?,
                _ => writeln!(out, "{event_type}: compatible with {}", versions.join(", "))?,
            }
        }
        Outcome::Refused(reasons) => {
            writeln!(out, "{event_type}: refused")?;
            for reason in reasons {
                writeln!(out, "  {reason}")?;
            }
        }
        Outcome::Failed(error) => writeln!(out, "{event_type}: error: {error}")?,
    }
    Ok(())
}

/// (event type, file) pairs: the one given, or each `*.json` of the
/// directory in name order, typed by file stem.
fn files(target: &SchemaTarget) -> anyhow::Result<Vec<(String, PathBuf)>> {
    if let Some(dir) = &target.dir {
        return directory(dir);
    }
    match (&target.event_type, &target.file) {
        (Some(event_type), Some(file)) => Ok(vec![(event_type.clone(), file.clone())]),
        _ => bail!("give EVENT_TYPE and FILE, or --dir"),
    }
}

fn directory(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") || !path.is_file() {
            continue;
        }
        let Some(event_type) = path.file_stem().and_then(|stem| stem.to_str()) else {
            continue;
        };
        found.push((event_type.to_string(), path.clone()));
    }
    if found.is_empty() {
        bail!("{} holds no `<event_type>.json` files", dir.display());
    }
    found.sort();
    Ok(found)
}

fn pointer(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}
