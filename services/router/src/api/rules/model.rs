//! A rule as stored, and the validated forms of `CreateRule` and
//! `UpdateRule`. Validation compiles the condition and mapping, so an
//! invalid expression is refused before anything is written.

use chrono::{DateTime, Utc};
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{ConnectionId, RuleId};

use super::pattern::EventPattern;
use crate::expr::{self, CompileError, RuleProgram};

const MAX_DESCRIPTION_LEN: usize = 1000;
const MAX_NAME_LEN: usize = 200;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleRecord {
    pub id: RuleId,
    pub name: Option<String>,
    pub event_type: String,
    pub connection_id: ConnectionId,
    pub enabled: bool,
    pub description: String,
    pub condition: String,
    pub mapping: String,
    /// CEL naming the ordering key of this rule's deliveries; empty: none.
    pub ordering_key: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RuleRecord {
    /// The rule as the audit log keeps it.
    pub fn audit_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id.to_string(),
            "name": self.name,
            "event_type": self.event_type,
            "connection_id": self.connection_id.to_string(),
            "enabled": self.enabled,
            "description": self.description,
            "condition": self.condition,
            "mapping": self.mapping,
            "ordering_key": self.ordering_key,
        })
    }
}

impl From<CompileError> for ApiError {
    fn from(error: CompileError) -> Self {
        ApiError::invalid(error.role.field(), error.reason)
    }
}

pub fn parse_pattern(text: &str) -> ApiResult<EventPattern> {
    EventPattern::parse(text).map_err(|reason| ApiError::invalid("event_type", reason))
}

pub fn parse_connection(text: &str) -> ApiResult<ConnectionId> {
    ConnectionId::parse(text).map_err(|reason| ApiError::invalid("connection_id", reason))
}

fn check_description(description: &str) -> ApiResult<()> {
    if description.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(ApiError::invalid(
            "description",
            format!("is longer than {MAX_DESCRIPTION_LEN} characters"),
        ));
    }
    Ok(())
}

/// An empty name is no name.
pub fn parse_name(name: &str) -> ApiResult<Option<String>> {
    let name = name.trim();
    if name.is_empty() {
        return Ok(None);
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(ApiError::invalid(
            "name",
            format!("is longer than {MAX_NAME_LEN} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "name",
            "must not contain control characters",
        ));
    }
    Ok(Some(name.to_string()))
}

/// The part of a rule that decides what it does, validated.
#[derive(Clone, Debug)]
pub struct RuleSpec {
    pub pattern: EventPattern,
    pub connection_id: ConnectionId,
    pub condition: String,
    pub mapping: String,
    pub ordering_key: String,
    pub enabled: bool,
    pub description: String,
    pub name: Option<String>,
}

impl RuleSpec {
    /// Checks description and compiles the expressions.
    pub fn validate(self) -> ApiResult<(Self, RuleProgram)> {
        check_description(&self.description)?;
        let program = expr::compile_keyed_rule(&self.condition, &self.mapping, &self.ordering_key)?;
        Ok((self, program))
    }
}

/// A validated `CreateRule`.
pub struct NewRule {
    pub spec: RuleSpec,
}

/// The expressions of a `CreateRule`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Expressions<'a> {
    pub condition: &'a str,
    pub mapping: &'a str,
    pub ordering_key: &'a str,
}

impl NewRule {
    pub fn parse(
        event_type: &str,
        connection_id: &str,
        description: &str,
        expressions: Expressions<'_>,
        enabled: Option<bool>,
        name: &str,
    ) -> ApiResult<Self> {
        let spec = RuleSpec {
            pattern: parse_pattern(event_type)?,
            connection_id: parse_connection(connection_id)?,
            condition: expressions.condition.to_string(),
            mapping: expressions.mapping.to_string(),
            ordering_key: expressions.ordering_key.to_string(),
            enabled: enabled.unwrap_or(true),
            description: description.to_string(),
            name: parse_name(name)?,
        };
        let (spec, _) = spec.validate()?;
        Ok(Self { spec })
    }
}

/// A validated `UpdateRule`: the fields to change.
#[derive(Clone, Debug, Default)]
pub struct RulePatch {
    pub pattern: Option<EventPattern>,
    pub connection_id: Option<ConnectionId>,
    pub condition: Option<String>,
    pub mapping: Option<String>,
    pub ordering_key: Option<String>,
    pub enabled: Option<bool>,
    pub description: Option<String>,
    pub name: Option<Option<String>>,
}

impl RulePatch {
    pub fn is_empty(&self) -> bool {
        self.pattern.is_none()
            && self.connection_id.is_none()
            && self.condition.is_none()
            && self.mapping.is_none()
            && self.ordering_key.is_none()
            && self.enabled.is_none()
            && self.description.is_none()
            && self.name.is_none()
    }

    /// The rule as it would be after the patch, validated. `current` is the
    /// stored rule.
    pub fn apply(&self, current: &RuleRecord) -> ApiResult<RuleSpec> {
        let pattern = match &self.pattern {
            Some(pattern) => pattern.clone(),
            None => EventPattern::parse(&current.event_type)
                .map_err(|reason| anyhow::anyhow!("stored rule pattern unreadable: {reason}"))?,
        };
        let spec = RuleSpec {
            pattern,
            connection_id: self.connection_id.unwrap_or(current.connection_id),
            condition: self
                .condition
                .clone()
                .unwrap_or_else(|| current.condition.clone()),
            mapping: self
                .mapping
                .clone()
                .unwrap_or_else(|| current.mapping.clone()),
            ordering_key: self
                .ordering_key
                .clone()
                .unwrap_or_else(|| current.ordering_key.clone()),
            enabled: self.enabled.unwrap_or(current.enabled),
            description: self
                .description
                .clone()
                .unwrap_or_else(|| current.description.clone()),
            name: self.name.clone().unwrap_or_else(|| current.name.clone()),
        };
        spec.validate().map(|(spec, _)| spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of<T>(result: ApiResult<T>) -> Option<String> {
        match result {
            Err(ApiError::InvalidArgument { field, .. }) => Some(field),
            _ => None,
        }
    }

    #[test]
    fn parse_names_the_bad_field() {
        let connection = ConnectionId::generate().to_string();
        let parse = |event_type: &str,
                     connection: &str,
                     description: &str,
                     condition: &str,
                     mapping: &str| {
            NewRule::parse(
                event_type,
                connection,
                description,
                Expressions {
                    condition,
                    mapping,
                    ordering_key: "",
                },
                None,
                "",
            )
        };
        assert_eq!(
            field_of(parse("Lead", &connection, "", "", "")).as_deref(),
            Some("event_type")
        );
        assert_eq!(
            field_of(parse("lead.created", "rul_x", "", "", "")).as_deref(),
            Some("connection_id")
        );
        assert_eq!(
            field_of(parse(
                "lead.created",
                &connection,
                &"d".repeat(1001),
                "",
                ""
            ))
            .as_deref(),
            Some("description")
        );
        assert_eq!(
            field_of(parse("lead.*", &connection, "", "1 +", "")).as_deref(),
            Some("condition")
        );
        assert_eq!(
            field_of(parse("*", &connection, "", "", "{")).as_deref(),
            Some("mapping")
        );
        let rule = parse("lead.*", &connection, "to the CRM", "true", "event.payload").expect("ok");
        assert!(rule.spec.enabled);
        assert_eq!(rule.spec.pattern.to_string(), "lead.*");
    }

    #[test]
    fn names_are_optional_trimmed_and_bounded() {
        assert_eq!(parse_name("  ").expect("ok"), None);
        assert_eq!(parse_name(" crm ").expect("ok").as_deref(), Some("crm"));
        assert!(parse_name(&"n".repeat(201)).is_err());
        assert!(parse_name("a\nb").is_err());
    }

    #[test]
    fn patches_merge_onto_the_stored_rule() {
        let current = RuleRecord {
            id: RuleId::generate(),
            name: Some("crm".into()),
            event_type: "lead.created".into(),
            connection_id: ConnectionId::generate(),
            enabled: true,
            description: "d".into(),
            condition: "event.payload.a == 1".into(),
            mapping: String::new(),
            ordering_key: String::new(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let patch = RulePatch {
            enabled: Some(false),
            mapping: Some("{'a': 1}".into()),
            name: Some(None),
            ..RulePatch::default()
        };
        let merged = patch.apply(&current).expect("ok");
        assert!(!merged.enabled);
        assert_eq!(merged.condition, current.condition);
        assert_eq!(merged.mapping, "{'a': 1}");
        assert_eq!(merged.name, None);
        let bad = RulePatch {
            condition: Some("event.nope".into()),
            ..RulePatch::default()
        };
        assert_eq!(field_of(bad.apply(&current)).as_deref(), Some("condition"));
    }
}
