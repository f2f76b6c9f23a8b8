//! `switchyard schema codegen --lang ts|python|rust [--out DIR]`: one type
//! per registered event type and version, plus a typed `emit` helper per
//! type, so a payload that breaks the schema fails to compile (TypeScript,
//! Rust) or to type-check (Python).
//!
//! 1. [`fetch`] reads every event type of the workspace and each of its
//!    schema versions from the registry.
//! 2. A language module turns them into files, through a well-kept
//!    JSON-Schema generator: [`rust`] with typify (in process),
//!    [`typescript`] with json-schema-to-typescript (`json2ts`, from npm),
//!    [`python`] with datamodel-code-generator (`datamodel-codegen`, from
//!    PyPI), each emitting `TypedDict`s. The external generators are run
//!    as commands (see [`Generator`]).
//! 3. [`write`] replaces DIR's generated files.
//!
//! Type names are the event type in PascalCase plus the version
//! (`lead.created` v2 → `LeadCreatedV2`); the helpers are named for the
//! type (`emitLeadCreated`, `emit_lead_created`) and pin the newest version,
//! with one per version beside them (`emitLeadCreatedV1`).

pub mod python;
pub mod rust;
pub mod typescript;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use switchyard_client::Client;

/// The languages `codegen` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Ts,
    Python,
    Rust,
}

/// One registered schema version.
#[derive(Clone, Debug, PartialEq)]
pub struct EventSchema {
    pub event_type: String,
    pub version: u32,
    pub schema: serde_json::Value,
    /// The newest version of its type.
    pub latest: bool,
}

impl EventSchema {
    /// `lead.created` → `LeadCreated`.
    pub fn pascal(&self) -> String {
        words(&self.event_type)
            .map(|word| {
                let mut chars = word.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_uppercase().chain(chars).collect::<String>()
                })
            })
            .collect()
    }

    /// `lead.created` → `lead_created`.
    pub fn snake(&self) -> String {
        words(&self.event_type)
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
            .join("_")
    }

    /// The type's name: `LeadCreatedV1`.
    pub fn type_name(&self) -> String {
        format!("{}V{}", self.pascal(), self.version)
    }

    /// The schema with its title replaced by the type's name (generators
    /// name the root type after the title) and its own `$id` dropped.
    pub fn titled(&self) -> serde_json::Value {
        let mut schema = self.schema.clone();
        if let Some(object) = schema.as_object_mut() {
            object.insert("title".to_string(), self.type_name().into());
            object.remove("$id");
        }
        schema
    }
}

fn words(name: &str) -> impl Iterator<Item = &str> {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
}

/// Every schema version of every event type, by type then version.
pub async fn fetch(client: &Client) -> anyhow::Result<Vec<EventSchema>> {
    let mut event_types = super::event_types(client).await?;
    event_types.sort_by(|a, b| a.name.cmp(&b.name));
    let mut schemas = Vec::new();
    for event_type in event_types {
        let latest = event_type.latest_version;
        for version in 1..=latest {
            let stored = super::schema_version(client, &event_type.name, version).await?;
            let schema = serde_json::from_str(&stored.json_schema).with_context(|| {
                format!(
                    "{} v{version}: the stored schema is not JSON",
                    event_type.name
                )
            })?;
            schemas.push(EventSchema {
                event_type: event_type.name.clone(),
                version,
                schema,
                latest: version == latest,
            });
        }
    }
    Ok(schemas)
}

/// An external JSON-Schema generator: a command and its leading arguments,
/// from an environment variable when set, else a default.
#[derive(Clone, Debug)]
pub struct Generator {
    pub program: String,
    pub args: Vec<String>,
}

impl Generator {
    /// `variable` split on spaces when set, else `default`.
    pub fn from_env(variable: &str, default: &[&str]) -> Self {
        let words: Vec<String> = match std::env::var(variable) {
            Ok(command) if !command.trim().is_empty() => {
                command.split_whitespace().map(str::to_string).collect()
            }
            _ => default.iter().map(|word| word.to_string()).collect(),
        };
        let (program, args) = words.split_first().map_or_else(
            || (String::new(), Vec::new()),
            |(program, args)| (program.clone(), args.to_vec()),
        );
        Self { program, args }
    }

    /// Runs the generator with `extra` arguments, `input` on stdin; its stdout.
    pub fn run(&self, extra: &[&str], input: &str) -> anyhow::Result<String> {
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("running `{}` (is it installed?)", self.program))?;
        child
            .stdin
            .take()
            .context("the generator's stdin")?
            .write_all(input.as_bytes())
            .with_context(|| format!("writing the schema to `{}`", self.program))?;
        let output = child
            .wait_with_output()
            .with_context(|| format!("waiting for `{}`", self.program))?;
        if !output.status.success() {
            bail!(
                "`{} {}` failed: {}",
                self.program,
                self.args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        String::from_utf8(output.stdout).context("the generator wrote something not UTF-8")
    }
}

/// The files of one language's output, relative to DIR.
pub type Files = Vec<(PathBuf, String)>;

/// Generates `lang`'s files for `schemas`.
pub fn render(lang: Lang, schemas: &[EventSchema]) -> anyhow::Result<Files> {
    if schemas.is_empty() {
        bail!("the workspace has no event types yet: register a schema first");
    }
    match lang {
        Lang::Rust => Ok(vec![(PathBuf::from("mod.rs"), rust::render(schemas)?)]),
        Lang::Ts => typescript::render(schemas),
        Lang::Python => python::render(schemas),
    }
}

/// Writes `files` under `dir` (created if missing), one line per file.
pub fn write(dir: &Path, files: &Files, out: &mut dyn Write) -> anyhow::Result<()> {
    for (relative, content) in files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
        writeln!(out, "wrote {}", path.display())?;
    }
    Ok(())
}

/// The whole command: fetch, render, write.
pub async fn codegen(
    client: &Client,
    lang: Lang,
    dir: &Path,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let schemas = fetch(client).await?;
    let files = render(lang, &schemas)?;
    write(dir, &files, out)
}

/// The header every generated file starts with (after the language's
/// comment marker).
pub const HEADER: &str = "Generated by `switchyard schema codegen` from the workspace's registered schemas. Do not edit.";

#[cfg(test)]
mod tests {
    use super::*;

    fn lead(version: u32) -> EventSchema {
        EventSchema {
            event_type: "lead.created".to_string(),
            version,
            schema: serde_json::json!({"title": "lead.created", "$id": "x", "type": "object"}),
            latest: true,
        }
    }

    #[test]
    fn names_follow_the_event_type_and_version() {
        let schema = lead(2);
        assert_eq!(schema.pascal(), "LeadCreated");
        assert_eq!(schema.snake(), "lead_created");
        assert_eq!(schema.type_name(), "LeadCreatedV2");
        let dashed = EventSchema {
            event_type: "invoice-paid.v2_final".to_string(),
            ..lead(1)
        };
        assert_eq!(dashed.type_name(), "InvoicePaidV2FinalV1");
        assert_eq!(dashed.snake(), "invoice_paid_v2_final");
    }

    #[test]
    fn the_title_becomes_the_type_name_and_the_id_goes() {
        let titled = lead(3).titled();
        assert_eq!(titled["title"], "LeadCreatedV3");
        assert!(titled.get("$id").is_none());
    }

    #[test]
    fn a_generator_command_comes_from_its_variable() {
        let generator = Generator::from_env("SWITCHYARD_TEST_UNSET_GENERATOR", &["npx", "json2ts"]);
        assert_eq!(generator.program, "npx");
        assert_eq!(generator.args, vec!["json2ts".to_string()]);
        let echoed = Generator::from_env("SWITCHYARD_TEST_UNSET_GENERATOR", &["cat"])
            .run(&[], "{\"a\":1}")
            .expect("cat runs");
        assert_eq!(echoed, "{\"a\":1}");
    }
}
