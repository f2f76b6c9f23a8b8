//! The rule cache across two router instances on one database: a change
//! made through one is seen by the other within a second.

use crate::common;

use std::time::{Duration, Instant};

use common::{Harness, RunningRouter, connection, create_rule, new_rule};
use serde_json::json;
use switchyard_client::proto;
use switchyard_router::routing;

/// Condition sources of the rules router `b` would route `lead.created` by,
/// polled until `expected` (or a second passes).
async fn wait_for(harness: &Harness, b: &RunningRouter, expected: &[&str]) -> Duration {
    let started = Instant::now();
    loop {
        let rules = b
            .state
            .cache
            .rules_for(&b.state.pool, harness.workspace, "lead.created")
            .await
            .expect("rules");
        let conditions: Vec<String> = rules.iter().map(|r| r.record.condition.clone()).collect();
        if conditions == expected {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "router b still has {conditions:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn changes_reach_the_other_router_within_a_second() {
    let harness = Harness::new().await;
    let a = harness.start_router().await;
    let b = harness.start_router().await;
    assert!(a.state.cache.is_listening() && b.state.cache.is_listening());
    let crm = connection(&a.client, "crm").await;

    // Warm b's cache with "no rules".
    wait_for(&harness, &b, &[]).await;
    assert_eq!(b.state.cache.len(), 1);

    let rule = create_rule(
        &a.client,
        proto::CreateRuleRequest {
            condition: "event.payload.n == 1".into(),
            ..new_rule("lead.*", &crm)
        },
    )
    .await;
    let created = wait_for(&harness, &b, &["event.payload.n == 1"]).await;

    a.client
        .router
        .clone()
        .update_rule(proto::UpdateRuleRequest {
            id: rule.id.clone(),
            condition: Some("event.payload.n == 2".into()),
            ..Default::default()
        })
        .await
        .expect("update");
    let updated = wait_for(&harness, &b, &["event.payload.n == 2"]).await;

    // Routing through b uses the fresh rule.
    let event = harness.event("lead.created", json!({"n": 2})).await;
    let outcome = routing::route_event(&b.state, harness.workspace, event)
        .await
        .expect("route");
    assert_eq!(outcome.created.len(), 1);

    a.client
        .router
        .clone()
        .update_rule(proto::UpdateRuleRequest {
            id: rule.id.clone(),
            enabled: Some(false),
            ..Default::default()
        })
        .await
        .expect("disable");
    let disabled = wait_for(&harness, &b, &[]).await;

    a.client
        .router
        .clone()
        .update_rule(proto::UpdateRuleRequest {
            id: rule.id.clone(),
            enabled: Some(true),
            ..Default::default()
        })
        .await
        .expect("enable");
    wait_for(&harness, &b, &["event.payload.n == 2"]).await;
    a.client
        .router
        .clone()
        .delete_connection(proto::DeleteConnectionRequest { id: crm })
        .await
        .expect("delete connection");
    let connection_deleted = wait_for(&harness, &b, &[]).await;

    let other = connection(&a.client, "other").await;
    let second = create_rule(&a.client, new_rule("lead.created", &other)).await;
    wait_for(&harness, &b, &[""]).await;
    a.client
        .router
        .clone()
        .delete_rule(proto::DeleteRuleRequest { id: second.id })
        .await
        .expect("delete rule");
    let deleted = wait_for(&harness, &b, &[]).await;

    println!(
        "seen by the other router after: create {created:?}, update {updated:?}, \
         disable {disabled:?}, connection delete {connection_deleted:?}, rule delete {deleted:?}"
    );
}

#[tokio::test]
async fn a_warm_cache_answers_without_postgres_changes() {
    let harness = Harness::new().await;
    let router = harness.start_router().await;
    let crm = connection(&router.client, "crm").await;
    create_rule(&router.client, new_rule("lead.created", &crm)).await;
    // The creation's own notification may still be on its way; let it land
    // so it does not empty the entry between the two lookups.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let first = router
        .state
        .cache
        .rules_for(&router.state.pool, harness.workspace, "lead.created")
        .await
        .expect("rules");
    let second = router
        .state
        .cache
        .rules_for(&router.state.pool, harness.workspace, "lead.created")
        .await
        .expect("rules");
    assert!(
        std::sync::Arc::ptr_eq(&first, &second),
        "served from the cache"
    );
    // Another workspace's change leaves this entry alone.
    let (other, _) = harness.other_workspace().await;
    router.state.cache.invalidate_workspace(other);
    let third = router
        .state
        .cache
        .rules_for(&router.state.pool, harness.workspace, "lead.created")
        .await
        .expect("rules");
    assert!(std::sync::Arc::ptr_eq(&first, &third));
}
