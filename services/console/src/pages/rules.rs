//! Rules: each with its event type, connection, condition and mapping, and
//! a "test this rule" box that sends a pasted payload to `TestRule` and
//! shows whether it matched, the body it built and the request its
//! connection would make (credentials masked by the router).

use axum::Form;
use axum::extract::Path;
use axum::response::IntoResponse;
use maud::{Markup, html};
use serde::Deserialize;
use switchyard_proto::v1::test_rule_request::Rule as RuleRef;
use switchyard_proto::v1::{
    GetRuleRequest, ListRulesRequest, Rule, TestRuleRequest, TestRuleResponse,
};

use super::{State, format, layout};
use crate::backend::authed;
use crate::error::ConsoleError;
use crate::session::{Session, SignedIn};

pub async fn list(
    state: State,
    SignedIn(session): SignedIn,
) -> Result<impl IntoResponse, ConsoleError> {
    let rules = state
        .backend
        .router
        .clone()
        .list_rules(authed(&session.credential, ListRulesRequest::default())?)
        .await?
        .into_inner()
        .rules;
    Ok(layout::page(
        &session,
        "Rules",
        html! {
            h1 { "Rules" }
            table #rules {
                thead { tr { th { "Rule" } th { "Event type" } th { "Connection" } th { "Condition" } th { "Mapping" } th { "Enabled" } } }
                tbody {
                    @for rule in &rules {
                        tr.rule {
                            td { a href={"/rules/" (rule.id)} { @if rule.name.is_empty() { code { (rule.id) } } @else { (rule.name) } } }
                            td { (rule.event_type) }
                            td { code { (rule.connection_id) } }
                            td { code { (rule.condition) } }
                            td { code { (rule.mapping) } }
                            td { @if rule.enabled { "yes" } @else { "no" } }
                        }
                    }
                }
            }
        },
    ))
}

pub async fn show(
    state: State,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ConsoleError> {
    let rule = get_rule(&state, &session, id).await?;
    let payload = "{}".to_string();
    Ok(rule_page(&session, &rule, &payload, None))
}

#[derive(Deserialize)]
pub struct TestForm {
    csrf: String,
    event_type: String,
    payload: String,
}

pub async fn test(
    state: State,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<TestForm>,
) -> Result<impl IntoResponse, ConsoleError> {
    session.check_csrf(&form.csrf)?;
    let rule = get_rule(&state, &session, id).await?;
    let request = TestRuleRequest {
        rule: Some(RuleRef::RuleId(rule.id.clone())),
        event_type: form.event_type.trim().to_string(),
        payload_json: form.payload.clone(),
    };
    let result = state
        .backend
        .router
        .clone()
        .test_rule(authed(&session.credential, request)?)
        .await?
        .into_inner();
    Ok(rule_page(&session, &rule, &form.payload, Some(&result)))
}

async fn get_rule(state: &State, session: &Session, id: String) -> Result<Rule, ConsoleError> {
    Ok(state
        .backend
        .router
        .clone()
        .get_rule(authed(&session.credential, GetRuleRequest { id })?)
        .await?
        .into_inner()
        .rule
        .unwrap_or_default())
}

fn rule_page(
    session: &Session,
    rule: &Rule,
    payload: &str,
    result: Option<&TestRuleResponse>,
) -> Markup {
    // A wildcard rule needs a concrete type for its sample event.
    let sample_type = if rule.event_type.contains('*') {
        ""
    } else {
        rule.event_type.as_str()
    };
    layout::page(
        session,
        "Rule",
        html! {
            h1 { "Rule " @if rule.name.is_empty() { code { (rule.id) } } @else { (rule.name) } }
            dl.facts {
                dt { "Event type" } dd { (rule.event_type) }
                dt { "Connection" } dd { code { (rule.connection_id) } }
                dt { "Enabled" } dd { @if rule.enabled { "yes" } @else { "no" } }
                dt { "Condition" } dd { pre #condition { (rule.condition) } }
                dt { "Mapping" } dd { pre #mapping { (rule.mapping) } }
            }
            h2 { "Test this rule" }
            form #test-rule method="post" action={"/rules/" (rule.id) "/test"} {
                (layout::csrf_field(session))
                label { "Event type " input name="event_type" value=(sample_type) required; }
                label for="payload" { "Payload (JSON object)" }
                textarea #payload name="payload" rows="8" { (payload) }
                button type="submit" { "Test" }
            }
            @if let Some(result) = result {
                section #test-result {
                    @if !result.error.is_empty() {
                        p.error { "Error: " (result.error) }
                    } @else if result.matched {
                        p.matched { "Matched." }
                        h3 { "Body" }
                        pre #test-body { (format::pretty_json(&result.body_json)) }
                        @if let Some(request) = &result.request {
                            h3 { "Request" }
                            pre { (request.method) " " (request.url) }
                            @if !request.error.is_empty() { p.error { (request.error) } }
                        }
                    } @else {
                        p.unmatched { "Did not match: " (result.reason) }
                    }
                }
            }
        },
    )
}
