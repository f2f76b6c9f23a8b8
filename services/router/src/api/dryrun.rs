//! `TestRule` and `TestEvent`: what rules would do with a sample event,
//! computed exactly as routing computes it (same compiler, same evaluator,
//! same bounds) but storing and sending nothing.
//!
//! `TestEvent` explains every rule of the workspace, in the order a reader
//! asks "why didn't this webhook fire?": the event type does not match, the
//! connection is deleted, the rule is disabled, the condition is false; or it
//! matched (with its body), or failed (with its error).

use std::sync::Arc;

use chrono::Utc;
use serde_json::Value as Json;
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{EventId, RuleId, WorkspaceId};
use switchyard_core::names::EventTypeName;

use crate::RouterState;
use crate::api::rules::{EventPattern, RuleRecord, model, store};
use crate::expr::{self, EventFields, EventScope, Outcome, RuleProgram};

/// Largest sample payload accepted.
const MAX_PAYLOAD_BYTES: usize = 256 * 1024;
/// Rules `TestEvent` explains at most.
const MAX_RULES: i64 = 1000;

pub const REASON_TYPE: &str = "event type does not match";
pub const REASON_CONNECTION: &str = "connection deleted";
pub const REASON_DISABLED: &str = "disabled";
pub const REASON_CONDITION: &str = "condition false";

/// What one rule would do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Explanation {
    pub matched: bool,
    /// The body as JSON text when matched (the payload itself without a
    /// mapping).
    pub body_json: String,
    pub error: String,
    /// Why it did not match.
    pub reason: String,
    /// For a saved rule that matched: the request its connection would make.
    pub request: Option<crate::api::connections::preview::Preview>,
}

/// The rule `TestRule` runs.
pub enum RuleUnderTest {
    Saved(RuleId),
    Unsaved {
        event_type: String,
        condition: String,
        mapping: String,
        ordering_key: String,
    },
}

/// A validated sample event.
pub struct Sample {
    pub event_type: EventTypeName,
    pub payload: Json,
    payload_text: String,
}

impl Sample {
    pub fn parse(event_type: &str, payload_json: &str) -> ApiResult<Self> {
        let event_type = EventTypeName::parse(event_type)
            .map_err(|reason| ApiError::invalid("event_type", reason))?;
        if payload_json.len() > MAX_PAYLOAD_BYTES {
            return Err(ApiError::invalid(
                "payload_json",
                format!("is larger than {MAX_PAYLOAD_BYTES} bytes"),
            ));
        }
        let payload: Json = serde_json::from_str(payload_json).map_err(|error| {
            ApiError::invalid("payload_json", format!("is not valid JSON: {error}"))
        })?;
        if !payload.is_object() {
            return Err(ApiError::invalid("payload_json", "must be a JSON object"));
        }
        let payload_text = payload.to_string();
        Ok(Self {
            event_type,
            payload,
            payload_text,
        })
    }
}

fn explain(outcome: Outcome, sample: &Sample) -> Explanation {
    match outcome {
        Outcome::Matched { body } => Explanation {
            matched: true,
            body_json: body.unwrap_or_else(|| sample.payload_text.clone()),
            ..Explanation::default()
        },
        Outcome::NotMatched => Explanation {
            reason: REASON_CONDITION.to_string(),
            ..Explanation::default()
        },
        Outcome::Failed { error } => Explanation {
            error,
            ..Explanation::default()
        },
    }
}

fn not_matched(reason: &str) -> Explanation {
    Explanation {
        reason: reason.to_string(),
        ..Explanation::default()
    }
}

/// Evaluates `programs` against the sample on the blocking pool.
async fn evaluate(sample: Arc<Sample>, programs: Vec<RuleProgram>) -> ApiResult<Vec<Outcome>> {
    tokio::task::spawn_blocking(move || {
        let id = EventId::generate().to_string();
        let fields = EventFields {
            event_type: sample.event_type.as_str(),
            id: &id,
            payload: &sample.payload,
            received_at: Utc::now(),
            schema_version: 1,
        };
        let scope = EventScope::new(&fields);
        programs
            .iter()
            .map(|program| scope.outcome(program))
            .collect()
    })
    .await
    .map_err(|error| ApiError::Internal(anyhow::anyhow!("rule evaluation panicked: {error}")))
}

pub async fn test_rule(
    state: &RouterState,
    workspace: WorkspaceId,
    rule: RuleUnderTest,
    sample: Sample,
) -> ApiResult<Explanation> {
    let mut connection = None;
    let (pattern, program) = match rule {
        RuleUnderTest::Saved(id) => {
            let record = store::get(&state.pool, workspace, id).await?;
            connection = Some(record.connection_id);
            let pattern = model::parse_pattern(&record.event_type)?;
            // A stored rule that no longer compiles fails, as routing would.
            match expr::compile_rule(&record.condition, &record.mapping) {
                Ok(program) => (pattern, program),
                Err(error) => {
                    return Ok(Explanation {
                        error: format!("the rule no longer compiles: {error}"),
                        ..Explanation::default()
                    });
                }
            }
        }
        RuleUnderTest::Unsaved {
            event_type,
            condition,
            mapping,
            ordering_key,
        } => (
            model::parse_pattern(&event_type)?,
            expr::compile_keyed_rule(&condition, &mapping, &ordering_key)?,
        ),
    };
    if !pattern.matches(sample.event_type.as_str()) {
        return Ok(not_matched(REASON_TYPE));
    }
    let sample = Arc::new(sample);
    let outcome = evaluate(Arc::clone(&sample), vec![program])
        .await?
        .pop()
        .unwrap_or(Outcome::NotMatched);
    let mut explanation = explain(outcome, &sample);
    if let Some(connection) = connection.filter(|_| explanation.matched) {
        let body: Json = serde_json::from_str(&explanation.body_json)
            .map_err(|error| ApiError::Internal(anyhow::anyhow!("mapped body: {error}")))?;
        let preview =
            crate::api::connections::preview::preview(state, workspace, connection, &body).await?;
        explanation.request = Some(preview);
    }
    Ok(explanation)
}

/// Every rule of the workspace, explained.
pub async fn test_event(
    state: &RouterState,
    workspace: WorkspaceId,
    sample: Sample,
) -> ApiResult<Vec<(RuleRecord, Explanation)>> {
    let rules = store::all_with_connection_state(&state.pool, workspace, MAX_RULES).await?;
    let mut explained: Vec<(RuleRecord, Option<Explanation>)> = Vec::with_capacity(rules.len());
    let mut programs = Vec::new();
    for (record, connection_live) in rules {
        let matches = EventPattern::parse(&record.event_type)
            .is_ok_and(|pattern| pattern.matches(sample.event_type.as_str()));
        let verdict = if !matches {
            Some(not_matched(REASON_TYPE))
        } else if !connection_live {
            Some(not_matched(REASON_CONNECTION))
        } else if !record.enabled {
            Some(not_matched(REASON_DISABLED))
        } else {
            match expr::compile_rule(&record.condition, &record.mapping) {
                Ok(program) => {
                    programs.push(program);
                    None
                }
                Err(error) => Some(Explanation {
                    error: format!("the rule no longer compiles: {error}"),
                    ..Explanation::default()
                }),
            }
        };
        explained.push((record, verdict));
    }
    let sample = Arc::new(sample);
    let mut outcomes = evaluate(Arc::clone(&sample), programs).await?.into_iter();
    Ok(explained
        .into_iter()
        .map(|(record, verdict)| {
            let explanation = verdict.unwrap_or_else(|| {
                explain(outcomes.next().unwrap_or(Outcome::NotMatched), &sample)
            });
            (record, explanation)
        })
        .collect())
}
