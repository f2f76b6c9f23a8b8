//! Records to protobuf messages, and request fields to validated values.

use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{ConnectionId, RuleId};
use switchyard_core::time;
use switchyard_proto::v1 as pb;

use switchyard_delivery_model::connection::ConnectionConfig;

use crate::api::connections;
use crate::api::connections::ConnectionRecord;
use crate::api::dryrun::Explanation;
use crate::api::rules::{RulePatch, RuleRecord, model};

pub fn connection_message(record: &ConnectionRecord, secret: Option<String>) -> pb::Connection {
    let (mut webhook, mut hubspot, mut mailchimp, mut salesforce) = (None, None, None, None);
    let (mut rabbitmq, mut nats) = (None, None);
    match &record.config {
        ConnectionConfig::Webhook(_) => {
            let masked = record.masked_webhook();
            webhook = Some(pb::WebhookConfig {
                url: masked.url,
                headers: masked.headers,
            });
        }
        ConnectionConfig::Hubspot(config) => {
            hubspot = Some(connections::saas::hubspot_message(config))
        }
        ConnectionConfig::Mailchimp(config) => {
            mailchimp = Some(connections::saas::mailchimp_message(config));
        }
        ConnectionConfig::Salesforce(config) => {
            salesforce = Some(connections::saas::salesforce_message(config));
        }
        ConnectionConfig::Rabbitmq(config) => {
            rabbitmq = Some(connections::broker::rabbitmq_message(config));
        }
        ConnectionConfig::Nats(config) => {
            nats = Some(connections::broker::nats_message(config));
        }
    }
    pb::Connection {
        id: record.id.to_string(),
        name: record.name.clone(),
        kind: record.kind.clone(),
        webhook,
        hubspot,
        mailchimp,
        salesforce,
        rabbitmq,
        nats,
        signing_secret: secret.unwrap_or_default(),
        created_at: Some(time::to_proto(record.created_at)),
        policy: Some(crate::api::connections::policy::to_proto(&record.policy)),
        state: pb::ConnectionState::from(record.state).into(),
        state_reason: record.state_reason.clone(),
        state_changed_at: time::to_proto_opt(record.state_changed_at),
        circuit_breaker: None,
        concurrency_limit: 0,
        updated_at: Some(time::to_proto(record.updated_at)),
    }
}

pub fn rule_message(record: &RuleRecord) -> pb::Rule {
    pb::Rule {
        id: record.id.to_string(),
        event_type: record.event_type.clone(),
        connection_id: record.connection_id.to_string(),
        enabled: record.enabled,
        description: record.description.clone(),
        created_at: Some(time::to_proto(record.created_at)),
        condition: record.condition.clone(),
        mapping: record.mapping.clone(),
        ordering_key: record.ordering_key.clone(),
        updated_at: Some(time::to_proto(record.updated_at)),
        name: record.name.clone().unwrap_or_default(),
    }
}

pub fn outcome_message(record: &RuleRecord, explanation: Explanation) -> pb::RuleOutcome {
    pb::RuleOutcome {
        rule_id: record.id.to_string(),
        rule_name: record.name.clone().unwrap_or_default(),
        event_type: record.event_type.clone(),
        connection_id: record.connection_id.to_string(),
        matched: explanation.matched,
        body_json: explanation.body_json,
        error: explanation.error,
        reason: explanation.reason,
    }
}

pub fn test_rule_message(explanation: Explanation) -> pb::TestRuleResponse {
    pb::TestRuleResponse {
        matched: explanation.matched,
        body_json: explanation.body_json,
        error: explanation.error,
        reason: explanation.reason,
        request: explanation.request.map(|preview| pb::RequestPreview {
            method: preview.method,
            url: preview.url,
            headers: preview.headers.into_iter().collect(),
            exchange: preview.exchange,
            routing_key: preview.routing_key,
            subject: preview.subject,
            body_json: preview.body_json,
            error: preview.error,
        }),
    }
}

pub fn parse_connection_id(text: &str, field: &str) -> ApiResult<ConnectionId> {
    ConnectionId::parse(text).map_err(|reason| ApiError::invalid(field, reason))
}

pub fn parse_rule_id(text: &str, field: &str) -> ApiResult<RuleId> {
    RuleId::parse(text).map_err(|reason| ApiError::invalid(field, reason))
}

/// The fields of an `UpdateRule` that are set, validated one by one (the
/// merged rule is validated again as a whole when applied).
pub fn rule_patch(request: &pb::UpdateRuleRequest) -> ApiResult<RulePatch> {
    let patch = RulePatch {
        pattern: request
            .event_type
            .as_deref()
            .map(model::parse_pattern)
            .transpose()?,
        connection_id: request
            .connection_id
            .as_deref()
            .map(model::parse_connection)
            .transpose()?,
        condition: request.condition.clone(),
        mapping: request.mapping.clone(),
        ordering_key: request.ordering_key.clone(),
        enabled: request.enabled,
        description: request.description.clone(),
        name: request.name.as_deref().map(model::parse_name).transpose()?,
    };
    if patch.is_empty() {
        return Err(ApiError::invalid(
            "fields",
            "none is set: nothing to change",
        ));
    }
    Ok(patch)
}
