//! `switchyard rules apply FILE`: declarative rules.
//!
//! The file lists rules, each keyed by a `name` unique in the workspace:
//!
//! ```yaml
//! rules:
//!   - name: big-leads-to-crm
//!     event_type: lead.created        # or lead.*, or *
//!     connection: crm                 # a connection name, or its con_… id
//!     condition: event.payload.amount > 100
//!     mapping: '{"email": event.payload.email}'
//!     ordering_key: event.payload.account_id   # optional: per-key order
//!     enabled: true                   # optional, default true
//!     description: optional text
//! ```
//!
//! Applying compares the file with the workspace's named rules: a name only
//! in the file is created, one in both whose fields differ is updated, a
//! named rule absent from the file is deleted; rules without a name are not
//! managed and left alone. Every change is printed (`+` create, `~` update,
//! `-` delete, `=` unchanged) before it is made. Every created or changed
//! rule's expressions are first checked by the router (a `TestRule` dry
//! run), so an invalid file changes nothing; `--dry-run` stops after
//! printing.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;
use switchyard_client::{Client, proto};

use super::status_error;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    pub rules: Vec<DesiredRule>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DesiredRule {
    pub name: String,
    pub event_type: String,
    pub connection: String,
    #[serde(default)]
    pub condition: String,
    #[serde(default)]
    pub mapping: String,
    #[serde(default)]
    pub ordering_key: String,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    #[serde(default)]
    pub description: String,
}

fn enabled_by_default() -> bool {
    true
}

pub fn parse(text: &str) -> anyhow::Result<Vec<DesiredRule>> {
    let file: RulesFile = serde_yaml::from_str(text).context("not a valid rules file")?;
    let mut seen = std::collections::HashSet::new();
    for rule in &file.rules {
        if rule.name.trim().is_empty() {
            bail!("every rule needs a name (the key apply matches rules by)");
        }
        if !seen.insert(rule.name.trim()) {
            bail!("the name `{}` is used twice", rule.name);
        }
    }
    Ok(file.rules)
}

pub fn read_file(path: &Path) -> anyhow::Result<Vec<DesiredRule>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text).with_context(|| format!("in {}", path.display()))
}

/// One change `apply` makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Create(proto::CreateRuleRequest),
    Update {
        request: proto::UpdateRuleRequest,
        /// `field: old -> new` per changed field.
        fields: Vec<String>,
    },
    Delete {
        id: String,
        name: String,
    },
    Unchanged {
        name: String,
    },
}

impl Change {
    pub fn describe(&self) -> String {
        match self {
            Self::Create(request) => format!(
                "+ {}: {} -> {}",
                request.name, request.event_type, request.connection_id
            ),
            Self::Update { request, fields } => format!(
                "~ {} ({}): {}",
                request.name.as_deref().unwrap_or_default(),
                request.id,
                fields.join("; ")
            ),
            Self::Delete { id, name } => format!("- {name} ({id})"),
            Self::Unchanged { name } => format!("= {name}"),
        }
    }
}

/// The changes that make `existing` (the workspace's rules) match
/// `desired`, whose connections are already resolved to ids.
pub fn plan(desired: &[DesiredRule], existing: &[proto::Rule]) -> Vec<Change> {
    let by_name: HashMap<&str, &proto::Rule> = existing
        .iter()
        .filter(|rule| !rule.name.is_empty())
        .map(|rule| (rule.name.as_str(), rule))
        .collect();
    let mut changes = Vec::new();
    for want in desired {
        let name = want.name.trim();
        let Some(have) = by_name.get(name) else {
            changes.push(Change::Create(proto::CreateRuleRequest {
                event_type: want.event_type.clone(),
                connection_id: want.connection.clone(),
                description: want.description.clone(),
                condition: want.condition.clone(),
                mapping: want.mapping.clone(),
                enabled: Some(want.enabled),
                name: name.to_string(),
                ordering_key: want.ordering_key.clone(),
            }));
            continue;
        };
        let mut request = proto::UpdateRuleRequest {
            id: have.id.clone(),
            name: Some(name.to_string()),
            ..Default::default()
        };
        let mut fields = Vec::new();
        let mut differs = |field: &str, old: &str, new: &str| {
            let changed = old != new;
            if changed {
                fields.push(format!("{field}: {old:?} -> {new:?}"));
            }
            changed.then(|| new.to_string())
        };
        request.event_type = differs("event_type", &have.event_type, &want.event_type);
        request.connection_id = differs("connection", &have.connection_id, &want.connection);
        request.condition = differs("condition", &have.condition, &want.condition);
        request.mapping = differs("mapping", &have.mapping, &want.mapping);
        request.ordering_key = differs("ordering_key", &have.ordering_key, &want.ordering_key);
        request.description = differs("description", &have.description, &want.description);
        if have.enabled != want.enabled {
            fields.push(format!("enabled: {} -> {}", have.enabled, want.enabled));
            request.enabled = Some(want.enabled);
        }
        if fields.is_empty() {
            changes.push(Change::Unchanged {
                name: name.to_string(),
            });
        } else {
            changes.push(Change::Update { request, fields });
        }
    }
    let wanted: std::collections::HashSet<&str> =
        desired.iter().map(|rule| rule.name.trim()).collect();
    let mut stale: Vec<&proto::Rule> = by_name
        .values()
        .filter(|rule| !wanted.contains(rule.name.as_str()))
        .copied()
        .collect();
    stale.sort_by(|a, b| a.id.cmp(&b.id));
    changes.extend(stale.into_iter().map(|rule| Change::Delete {
        id: rule.id.clone(),
        name: rule.name.clone(),
    }));
    changes
}

/// Every rule of the workspace, page by page.
pub async fn all_rules(client: &Client) -> anyhow::Result<Vec<proto::Rule>> {
    let mut rules = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .router
            .clone()
            .list_rules(proto::ListRulesRequest {
                page_size: 500,
                page_token,
                ..Default::default()
            })
            .await
            .map_err(status_error)?
            .into_inner();
        rules.extend(page.rules);
        if page.next_page_token.is_empty() {
            return Ok(rules);
        }
        page_token = page.next_page_token;
    }
}

/// Connection names to ids; a value that already is an id stays as it is.
async fn resolve_connections(client: &Client, desired: &mut [DesiredRule]) -> anyhow::Result<()> {
    let connections = client
        .router
        .clone()
        .list_connections(proto::ListConnectionsRequest {
            page_size: 500,
            ..Default::default()
        })
        .await
        .map_err(status_error)?
        .into_inner()
        .connections;
    let mut by_name: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for connection in &connections {
        by_name
            .entry(&connection.name)
            .or_default()
            .push(&connection.id);
    }
    for rule in desired.iter_mut() {
        if rule.connection.starts_with("con_") {
            continue;
        }
        match by_name.get(rule.connection.as_str()).map(Vec::as_slice) {
            Some([id]) => rule.connection = (*id).to_string(),
            Some(_) => bail!(
                "rule `{}`: several connections are named `{}`; use its con_… id",
                rule.name,
                rule.connection
            ),
            None => bail!(
                "rule `{}`: no connection named `{}`",
                rule.name,
                rule.connection
            ),
        }
    }
    Ok(())
}

/// Has the router compile a rule's expressions without saving it.
async fn check(
    client: &Client,
    name: &str,
    event_type: &str,
    condition: &str,
    mapping: &str,
    ordering_key: &str,
) -> anyhow::Result<()> {
    client
        .router
        .clone()
        .test_rule(proto::TestRuleRequest {
            rule: Some(proto::test_rule_request::Rule::Spec(proto::RuleSpec {
                event_type: event_type.to_string(),
                condition: condition.to_string(),
                mapping: mapping.to_string(),
                ordering_key: ordering_key.to_string(),
            })),
            event_type: "sample.event".to_string(),
            payload_json: "{}".to_string(),
        })
        .await
        .map_err(|status| anyhow::anyhow!("rule `{name}`: {}", status.message()))?;
    Ok(())
}

/// Plans, prints, checks and (unless `dry_run`) makes the changes.
pub async fn apply(
    client: &Client,
    desired: &[DesiredRule],
    dry_run: bool,
    out: &mut impl Write,
) -> anyhow::Result<Vec<Change>> {
    let mut desired = desired.to_vec();
    resolve_connections(client, &mut desired).await?;
    let changes = plan(&desired, &all_rules(client).await?);
    for change in &changes {
        writeln!(out, "{}", change.describe())?;
    }
    for (want, change) in desired.iter().zip(&changes) {
        if matches!(change, Change::Create(_) | Change::Update { .. }) {
            check(
                client,
                &want.name,
                &want.event_type,
                &want.condition,
                &want.mapping,
                &want.ordering_key,
            )
            .await?;
        }
    }
    let counted = |pick: fn(&Change) -> bool| changes.iter().filter(|c| pick(c)).count();
    let summary = format!(
        "{} to create, {} to update, {} to delete, {} unchanged",
        counted(|c| matches!(c, Change::Create(_))),
        counted(|c| matches!(c, Change::Update { .. })),
        counted(|c| matches!(c, Change::Delete { .. })),
        counted(|c| matches!(c, Change::Unchanged { .. })),
    );
    if dry_run {
        writeln!(out, "dry run: {summary}")?;
        return Ok(changes);
    }
    let mut router = client.router.clone();
    for change in &changes {
        match change {
            Change::Create(request) => {
                router
                    .create_rule(request.clone())
                    .await
                    .map_err(status_error)?;
            }
            Change::Update { request, .. } => {
                router
                    .update_rule(request.clone())
                    .await
                    .map_err(status_error)?;
            }
            Change::Delete { id, .. } => {
                router
                    .delete_rule(proto::DeleteRuleRequest { id: id.clone() })
                    .await
                    .map_err(status_error)?;
            }
            Change::Unchanged { .. } => {}
        }
    }
    writeln!(out, "applied: {summary}")?;
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(name: &str, condition: &str) -> DesiredRule {
        DesiredRule {
            name: name.into(),
            event_type: "lead.created".into(),
            connection: "con_1".into(),
            condition: condition.into(),
            mapping: String::new(),
            ordering_key: String::new(),
            enabled: true,
            description: String::new(),
        }
    }

    fn existing(id: &str, name: &str, condition: &str) -> proto::Rule {
        proto::Rule {
            id: id.into(),
            name: name.into(),
            event_type: "lead.created".into(),
            connection_id: "con_1".into(),
            condition: condition.into(),
            enabled: true,
            ..Default::default()
        }
    }

    #[test]
    fn parses_files_and_refuses_unnamed_or_duplicate_rules() {
        let rules = parse(
            "rules:\n  - name: a\n    event_type: lead.*\n    connection: crm\n    mapping: |\n      {\"x\": 1}\n",
        )
        .expect("parses");
        assert_eq!(rules[0].mapping, "{\"x\": 1}\n");
        assert!(rules[0].enabled);
        assert!(parse("rules:\n  - event_type: a.b\n    connection: c\n").is_err());
        assert!(parse("rules:\n  - name: a\n    event_type: a.b\n    connection: c\n  - name: a\n    event_type: a.b\n    connection: c\n").is_err());
        assert!(
            parse("rules:\n  - name: a\n    event_type: a.b\n    connection: c\n    colour: red\n")
                .is_err()
        );
    }

    #[test]
    fn plans_creates_updates_deletes_and_leaves_unnamed_rules() {
        let want = vec![
            desired("new", ""),
            desired("changed", "true"),
            desired("same", ""),
        ];
        let have = vec![
            existing("rul_1", "changed", "false"),
            existing("rul_2", "same", ""),
            existing("rul_3", "stale", ""),
            existing("rul_4", "", ""),
        ];
        let changes = plan(&want, &have);
        let lines: Vec<String> = changes.iter().map(Change::describe).collect();
        assert_eq!(
            lines,
            vec![
                "+ new: lead.created -> con_1",
                "~ changed (rul_1): condition: \"false\" -> \"true\"",
                "= same",
                "- stale (rul_3)",
            ]
        );
        let Change::Update { request, .. } = &changes[1] else {
            panic!("an update");
        };
        assert_eq!(request.condition.as_deref(), Some("true"));
        assert_eq!(request.mapping, None, "unchanged fields are not sent");
    }
}
