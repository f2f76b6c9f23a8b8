//! The rule handlers of `RouterService`, dry runs included. Each parses and
//! authenticates, calls [`crate::api::rules`] or [`crate::api::dryrun`], and converts.

use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::RuleId;
use switchyard_core::paging;
use switchyard_proto::v1 as pb;
use tonic::Request;

use super::messages::{
    outcome_message, parse_connection_id, parse_rule_id, rule_message, rule_patch,
    test_rule_message,
};
use crate::RouterState;
use crate::api::dryrun::{self, RuleUnderTest, Sample};
use crate::api::rules::{NewRule, RuleFilter, store};

impl RouterState {
    pub(super) async fn create_rule(
        &self,
        request: Request<pb::CreateRuleRequest>,
    ) -> ApiResult<pb::Rule> {
        let by = self.principal(&request)?;
        let workspace = by.workspace;
        let request = request.into_inner();
        let rule = NewRule::parse(
            &request.event_type,
            &request.connection_id,
            &request.description,
            crate::api::rules::model::Expressions {
                condition: &request.condition,
                mapping: &request.mapping,
                ordering_key: &request.ordering_key,
            },
            request.enabled,
            &request.name,
        )?;
        let limits = self.quotas.limits(workspace);
        let record = store::create(&self.pool, &by, &limits, &rule.spec).await?;
        tracing::info!(workspace = %workspace, rule = %record.id, "rule created");
        Ok(rule_message(&record))
    }

    pub(super) async fn get_rule(
        &self,
        request: Request<pb::GetRuleRequest>,
    ) -> ApiResult<pb::Rule> {
        let workspace = self.workspace(&request).await?;
        let id = parse_rule_id(&request.get_ref().id, "id")?;
        Ok(rule_message(&store::get(&self.pool, workspace, id).await?))
    }

    pub(super) async fn update_rule(
        &self,
        request: Request<pb::UpdateRuleRequest>,
    ) -> ApiResult<pb::Rule> {
        let by = self.principal(&request)?;
        let request = request.into_inner();
        let id = parse_rule_id(&request.id, "id")?;
        let patch = rule_patch(&request)?;
        let record = store::update(&self.pool, &by, id, &patch).await?;
        tracing::info!(workspace = %by.workspace, rule = %record.id, "rule updated");
        Ok(rule_message(&record))
    }

    pub(super) async fn list_rules(
        &self,
        request: Request<pb::ListRulesRequest>,
    ) -> ApiResult<pb::ListRulesResponse> {
        let workspace = self.workspace(&request).await?;
        let request = request.into_inner();
        let limit = paging::page_size(request.page_size)?;
        let filter = RuleFilter {
            event_type: (!request.event_type.is_empty()).then_some(request.event_type),
            connection_id: match request.connection_id.as_str() {
                "" => None,
                text => Some(parse_connection_id(text, "connection_id")?),
            },
            after: paging::after(&request.page_token, RuleId::parse)?,
            limit: paging::fetch_limit(limit),
        };
        let mut records = store::list(&self.pool, workspace, filter).await?;
        Ok(pb::ListRulesResponse {
            next_page_token: paging::finish(&mut records, limit, |r| r.id),
            rules: records.iter().map(rule_message).collect(),
        })
    }

    pub(super) async fn delete_rule(
        &self,
        request: Request<pb::DeleteRuleRequest>,
    ) -> ApiResult<()> {
        let by = self.principal(&request)?;
        let id = parse_rule_id(&request.get_ref().id, "id")?;
        store::delete(&self.pool, &by, id).await?;
        tracing::info!(workspace = %by.workspace, rule = %id, "rule deleted");
        Ok(())
    }

    pub(super) async fn test_rule(
        &self,
        request: Request<pb::TestRuleRequest>,
    ) -> ApiResult<pb::TestRuleResponse> {
        let workspace = self.workspace(&request).await?;
        let request = request.into_inner();
        let rule = match request.rule {
            Some(pb::test_rule_request::Rule::RuleId(id)) => {
                RuleUnderTest::Saved(parse_rule_id(&id, "rule_id")?)
            }
            Some(pb::test_rule_request::Rule::Spec(spec)) => RuleUnderTest::Unsaved {
                event_type: spec.event_type,
                condition: spec.condition,
                mapping: spec.mapping,
                ordering_key: spec.ordering_key,
            },
            None => return Err(ApiError::invalid("rule", "is required (rule_id or spec)")),
        };
        let sample = Sample::parse(&request.event_type, &request.payload_json)?;
        let explanation = dryrun::test_rule(self, workspace, rule, sample).await?;
        Ok(test_rule_message(explanation))
    }

    pub(super) async fn test_event(
        &self,
        request: Request<pb::TestEventRequest>,
    ) -> ApiResult<pb::TestEventResponse> {
        let workspace = self.workspace(&request).await?;
        let request = request.into_inner();
        let sample = Sample::parse(&request.event_type, &request.payload_json)?;
        let explained = dryrun::test_event(self, workspace, sample).await?;
        Ok(pb::TestEventResponse {
            outcomes: explained
                .into_iter()
                .map(|(record, explanation)| outcome_message(&record, explanation))
                .collect(),
        })
    }
}
