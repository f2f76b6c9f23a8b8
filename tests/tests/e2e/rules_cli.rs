//! `switchyard rules apply` and `switchyard rules test` against the running
//! services.

use std::collections::HashMap;

use switchyard::commands::rules::{self, apply};
use switchyard_tests::TestStack;

fn text(out: Vec<u8>) -> String {
    String::from_utf8(out).unwrap_or_default()
}

#[tokio::test]
async fn apply_converges_the_workspace_on_the_file() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let client = &stack.client;
    let crm = client
        .create_webhook("crm", "http://127.0.0.1:9/crm", HashMap::new())
        .await?;
    let unmanaged = client.create_rule("lead.created", &crm.id).await?;

    let first = apply::parse(
        r#"
rules:
  - name: big-leads
    event_type: lead.created
    connection: crm
    condition: event.payload.amount > 100
    mapping: '{"email": event.payload.email}'
  - name: all-leads
    event_type: lead.*
    connection: crm
"#,
    )?;
    let mut out = Vec::new();
    apply::apply(client, &first, true, &mut out).await?;
    let printed = text(out);
    assert!(
        printed.contains(&format!("+ big-leads: lead.created -> {}", crm.id)),
        "{printed}"
    );
    assert!(
        printed.contains("dry run: 2 to create, 0 to update, 0 to delete, 0 unchanged"),
        "{printed}"
    );
    assert_eq!(
        apply::all_rules(client).await?.len(),
        1,
        "a dry run changes nothing"
    );

    let mut out = Vec::new();
    apply::apply(client, &first, false, &mut out).await?;
    assert!(text(out).contains("applied: 2 to create"));
    let rules_now = apply::all_rules(client).await?;
    assert_eq!(rules_now.len(), 3);
    let big = rules_now
        .iter()
        .find(|r| r.name == "big-leads")
        .cloned()
        .unwrap_or_default();
    assert_eq!(big.condition, "event.payload.amount > 100");
    assert_eq!(big.connection_id, crm.id);

    // Applying the same file again changes nothing.
    let mut out = Vec::new();
    apply::apply(client, &first, false, &mut out).await?;
    assert!(text(out).contains("0 to create, 0 to update, 0 to delete, 2 unchanged"));

    let second = apply::parse(
        r#"
rules:
  - name: big-leads
    event_type: lead.created
    connection: crm
    condition: event.payload.amount > 500
    mapping: '{"email": event.payload.email}'
    enabled: false
"#,
    )?;
    let mut out = Vec::new();
    apply::apply(client, &second, false, &mut out).await?;
    let printed = text(out);
    assert!(
        printed.contains(r#"condition: "event.payload.amount > 100" -> "event.payload.amount > 500"; enabled: true -> false"#),
        "{printed}"
    );
    assert!(printed.contains("- all-leads"), "{printed}");
    let rules_now = apply::all_rules(client).await?;
    let ids: Vec<_> = rules_now.iter().map(|r| r.id.clone()).collect();
    assert_eq!(
        ids,
        vec![unmanaged.id.clone(), big.id.clone()],
        "unnamed rules are left alone"
    );
    assert!(!rules_now[1].enabled);

    // An invalid expression is refused before anything changes.
    let invalid = apply::parse(
        "rules:\n  - name: broken\n    event_type: lead.created\n    connection: crm\n    condition: 'event.payload.amount >'\n",
    )?;
    let error = apply::apply(client, &invalid, false, &mut Vec::new())
        .await
        .expect_err("invalid");
    assert!(
        error.to_string().contains("rule `broken`: condition: 1:"),
        "{error}"
    );
    assert_eq!(apply::all_rules(client).await?.len(), 2);
    stack.stop().await
}

#[tokio::test]
async fn test_prints_what_every_rule_would_do() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let client = &stack.client;
    let crm = client
        .create_webhook("crm", "http://127.0.0.1:9/crm", HashMap::new())
        .await?;
    let rules_file = apply::parse(&format!(
        r#"
rules:
  - name: big
    event_type: lead.created
    connection: {}
    condition: event.payload.amount > 100
  - name: mapped
    event_type: lead.*
    connection: crm
    mapping: '{{"who": event.payload.email}}'
  - name: invoices
    event_type: invoice.*
    connection: crm
"#,
        crm.id
    ))?;
    apply::apply(client, &rules_file, false, &mut Vec::new()).await?;
    let payload = std::env::temp_dir().join(format!("payload-{}.json", uuid::Uuid::now_v7()));
    std::fs::write(&payload, r#"{"email": "ada@example.com", "amount": 5}"#)?;
    let mut out = Vec::new();
    let outcomes = rules::test(client, "lead.created", &payload, &mut out).await?;
    std::fs::remove_file(&payload)?;
    let printed = text(out);
    assert_eq!(outcomes.len(), 3);
    assert!(printed.contains("big  lead.created"), "{printed}");
    assert!(printed.contains("no match: condition false"), "{printed}");
    assert!(
        printed.contains(r#"MATCHED  body: {"who":"ada@example.com"}"#),
        "{printed}"
    );
    assert!(
        printed.contains("no match: event type does not match"),
        "{printed}"
    );
    assert!(printed.contains("1 of 3 rules would deliver"), "{printed}");
    stack.stop().await
}
