//! The rule RPCs through gRPC against real Postgres: create (wildcards,
//! expressions refused with their position), get, update, list, delete, and
//! workspace isolation. The dry runs are in `dryrun.rs`.

use crate::common;

use common::{Harness, connection, create_rule, new_rule};
use switchyard_client::proto;
use tonic::Code;
use tonic_types::StatusExt;

#[tokio::test]
async fn rules_are_created_read_updated_listed_and_deleted() {
    let harness = Harness::new().await;
    let router = harness.start_router().await;
    let client = &router.client;
    let crm = connection(client, "crm").await;
    let sheet = connection(client, "sheet").await;

    let rule = create_rule(
        client,
        proto::CreateRuleRequest {
            condition: "event.payload.amount > 100".into(),
            mapping: r#"{"email": event.payload.email}"#.into(),
            name: "big-leads".into(),
            description: "to the CRM".into(),
            ..new_rule("lead.created", &crm)
        },
    )
    .await;
    assert!(rule.id.starts_with("rul_"));
    assert!(rule.enabled, "enabled defaults to true");
    assert_eq!(rule.name, "big-leads");
    assert_eq!(rule.condition, "event.payload.amount > 100");

    let fetched = client
        .router
        .clone()
        .get_rule(proto::GetRuleRequest {
            id: rule.id.clone(),
        })
        .await
        .expect("get")
        .into_inner()
        .rule
        .expect("rule");
    assert_eq!(fetched, rule);

    let updated = client
        .router
        .clone()
        .update_rule(proto::UpdateRuleRequest {
            id: rule.id.clone(),
            enabled: Some(false),
            mapping: Some(String::new()),
            connection_id: Some(sheet.clone()),
            ..Default::default()
        })
        .await
        .expect("update")
        .into_inner()
        .rule
        .expect("rule");
    assert!(!updated.enabled);
    assert_eq!(updated.mapping, "");
    assert_eq!(
        updated.condition, rule.condition,
        "unset fields keep their value"
    );
    assert_eq!(updated.connection_id, sheet);
    assert_eq!(updated.created_at, rule.created_at);

    let wildcard = create_rule(client, new_rule("lead.*", &crm)).await;
    let everything = create_rule(
        client,
        proto::CreateRuleRequest {
            enabled: Some(false),
            ..new_rule("*", &sheet)
        },
    )
    .await;
    assert!(!everything.enabled);

    let list = |event_type: &str, connection_id: &str| {
        let mut router = client.router.clone();
        let request = proto::ListRulesRequest {
            event_type: event_type.to_string(),
            connection_id: connection_id.to_string(),
            ..Default::default()
        };
        async move {
            let rules = router
                .list_rules(request)
                .await
                .expect("list")
                .into_inner()
                .rules;
            rules.into_iter().map(|r| r.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list("", "").await,
        vec![rule.id.clone(), wildcard.id.clone(), everything.id.clone()]
    );
    assert_eq!(list("lead.*", "").await, vec![wildcard.id.clone()]);
    assert_eq!(
        list("", &sheet).await,
        vec![rule.id.clone(), everything.id.clone()]
    );

    let first_page = client
        .router
        .clone()
        .list_rules(proto::ListRulesRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .expect("page")
        .into_inner();
    assert_eq!(first_page.rules.len(), 2);
    let second_page = client
        .router
        .clone()
        .list_rules(proto::ListRulesRequest {
            page_size: 2,
            page_token: first_page.next_page_token,
            ..Default::default()
        })
        .await
        .expect("page")
        .into_inner();
    assert_eq!(second_page.rules.len(), 1);
    assert_eq!(second_page.rules[0].id, everything.id);

    client
        .router
        .clone()
        .delete_rule(proto::DeleteRuleRequest {
            id: wildcard.id.clone(),
        })
        .await
        .expect("delete");
    let gone = client
        .router
        .clone()
        .get_rule(proto::GetRuleRequest {
            id: wildcard.id.clone(),
        })
        .await
        .expect_err("deleted");
    assert_eq!(gone.code(), Code::NotFound);
    let again = client
        .router
        .clone()
        .delete_rule(proto::DeleteRuleRequest {
            id: wildcard.id.clone(),
        })
        .await
        .expect_err("deleted twice");
    assert_eq!(again.code(), Code::NotFound);
    let update_gone = client
        .router
        .clone()
        .update_rule(proto::UpdateRuleRequest {
            id: wildcard.id,
            enabled: Some(true),
            ..Default::default()
        })
        .await
        .expect_err("update of a deleted rule");
    assert_eq!(update_gone.code(), Code::NotFound);
    assert_eq!(list("", "").await, vec![rule.id, everything.id]);
}

#[tokio::test]
async fn invalid_rules_are_refused_with_the_field_and_position() {
    let harness = Harness::new().await;
    let router = harness.start_router().await;
    let client = &router.client;
    let crm = connection(client, "crm").await;

    let refused = |request: proto::CreateRuleRequest| {
        let mut router = client.router.clone();
        async move { router.create_rule(request).await.expect_err("refused") }
    };

    let status = refused(proto::CreateRuleRequest {
        condition: "event.payload.amount >".into(),
        ..new_rule("lead.created", &crm)
    })
    .await;
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("condition: 1:23: "),
        "{}",
        status.message()
    );
    let violations = status
        .get_error_details()
        .bad_request()
        .expect("details")
        .field_violations
        .clone();
    assert_eq!(violations[0].field, "condition");

    let status = refused(proto::CreateRuleRequest {
        mapping: "{\"a\": event.payload.a,\n \"b\": event.paylod.b}".into(),
        ..new_rule("lead.created", &crm)
    })
    .await;
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("mapping: 2:")
            && status.message().contains("`event` has no field `paylod`"),
        "{}",
        status.message()
    );

    let status = refused(proto::CreateRuleRequest {
        condition: "{'a': 1}".into(),
        ..new_rule("lead.created", &crm)
    })
    .await;
    assert!(
        status.message().contains("must yield a bool"),
        "{}",
        status.message()
    );

    let status = refused(new_rule("lead.*.created", &crm)).await;
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("event_type: "));

    // An exact type must be registered; a wildcard need not match any.
    let status = refused(new_rule("order.placed", &crm)).await;
    assert_eq!(status.code(), Code::NotFound);
    create_rule(client, new_rule("order.*", &crm)).await;

    create_rule(
        client,
        proto::CreateRuleRequest {
            name: "crm".into(),
            ..new_rule("lead.created", &crm)
        },
    )
    .await;
    let status = refused(proto::CreateRuleRequest {
        name: "crm".into(),
        ..new_rule("lead.updated", &crm)
    })
    .await;
    assert_eq!(status.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn another_workspace_sees_nothing() {
    let harness = Harness::new().await;
    let router = harness.start_router().await;
    let crm = connection(&router.client, "crm").await;
    let rule = create_rule(&router.client, new_rule("lead.created", &crm)).await;
    let (_, other_key) = harness.other_workspace().await;
    let other = harness.client(router.addr, &other_key);
    let mut router_client = other.router.clone();
    let get = router_client
        .get_rule(proto::GetRuleRequest {
            id: rule.id.clone(),
        })
        .await
        .expect_err("other workspace");
    assert_eq!(get.code(), Code::NotFound);
    let update = router_client
        .update_rule(proto::UpdateRuleRequest {
            id: rule.id.clone(),
            enabled: Some(false),
            ..Default::default()
        })
        .await
        .expect_err("other workspace");
    assert_eq!(update.code(), Code::NotFound);
    let delete = router_client
        .delete_rule(proto::DeleteRuleRequest {
            id: rule.id.clone(),
        })
        .await
        .expect_err("other workspace");
    assert_eq!(delete.code(), Code::NotFound);
    let test = router_client
        .test_rule(proto::TestRuleRequest {
            rule: Some(proto::test_rule_request::Rule::RuleId(rule.id.clone())),
            event_type: "lead.created".into(),
            payload_json: "{}".into(),
        })
        .await
        .expect_err("other workspace");
    assert_eq!(test.code(), Code::NotFound);
    let create = router_client
        .create_rule(new_rule("lead.created", &crm))
        .await
        .expect_err("another workspace's connection");
    assert_eq!(create.code(), Code::NotFound);
    let listed = router_client
        .list_rules(proto::ListRulesRequest::default())
        .await
        .expect("list")
        .into_inner()
        .rules;
    assert!(listed.is_empty());
    let explained = router_client
        .test_event(proto::TestEventRequest {
            event_type: "lead.created".into(),
            payload_json: "{}".into(),
        })
        .await
        .expect("test event")
        .into_inner()
        .outcomes;
    assert!(explained.is_empty());
    // The owner still has it, untouched.
    let mine = router
        .client
        .router
        .clone()
        .get_rule(proto::GetRuleRequest { id: rule.id })
        .await
        .expect("own rule")
        .into_inner()
        .rule
        .expect("rule");
    assert!(mine.enabled);
}
