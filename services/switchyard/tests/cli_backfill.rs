//! `switchyard rules backfill` and `switchyard backfills …` as a user meets
//! them, against a router with its backfill worker: events stored before
//! the rule existed get one delivery each, the command follows the
//! backfill to its end (a rule named instead of its id), `--no-wait`
//! prints only the id, `backfills list --json` and `get` report progress,
//! `cancel` stops a running one and refuses a finished one in one line.

#[path = "support/router_cli.rs"]
mod router_cli;

use std::process::{Command, Output};

use switchyard_core::ids::{EventId, WorkspaceId};

use router_cli::RouterForCli;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_from_the_command_line() -> anyhow::Result<()> {
    let env = RouterForCli::start().await?;
    let (key, router) = (env.key.clone(), env.router.clone());
    store_events(&env.pool, env.workspace, 12).await?;
    let run = |args: &[&str]| -> std::io::Result<Output> {
        Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SWITCHYARD_API_KEY", &key)
            .env("SWITCHYARD_ROUTER_ENDPOINT", &router)
            .args(args)
            .output()
    };

    let created = run(&[
        "connections",
        "create",
        "--name",
        "crm",
        "--url",
        "http://127.0.0.1:9/hook",
    ])?;
    assert!(created.status.success(), "{created:?}");
    let connection = text(&created.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    let rule = run(&[
        "rules",
        "create",
        "--event-type",
        "lead.created",
        "--connection",
        &connection,
        "--name",
        "crm-leads",
    ])?;
    assert!(rule.status.success(), "{rule:?}");
    let rule_id = text(&rule.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();

    let from = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let followed = run(&[
        "rules",
        "backfill",
        "crm-leads",
        "--from",
        &from,
        "--rate",
        "100",
    ])?;
    assert!(followed.status.success(), "{followed:?}");
    let summary = text(&followed.stdout);
    assert!(summary.starts_with("bf_"), "{summary}");
    assert!(
        summary.contains("completed  12/12 events (100%)  created 12  skipped 0"),
        "{summary}"
    );
    let client = env.pool.get().await?;
    let deliveries: i64 = client
        .query_one("SELECT count(DISTINCT event_id) FROM deliveries", &[])
        .await?
        .get(0);
    let rows: i64 = client
        .query_one("SELECT count(*) FROM deliveries", &[])
        .await?
        .get(0);
    assert_eq!((deliveries, rows), (12, 12));

    // Slowly, without waiting: the id alone, then cancelled while running.
    let started = run(&[
        "rules",
        "backfill",
        &rule_id,
        "--from",
        &from,
        "--rate",
        "1",
        "--no-wait",
    ])?;
    assert!(started.status.success(), "{started:?}");
    let id = text(&started.stdout).trim().to_string();
    assert!(id.starts_with("bf_") && !id.contains(' '), "{id}");
    let got = run(&["backfills", "get", &id, "--json"])?;
    let got: serde_json::Value = serde_json::from_slice(&got.stdout)?;
    assert_eq!(got["state"], "running");
    assert_eq!(got["events_total"], 12);
    let cancelled = run(&["backfills", "cancel", &id])?;
    assert!(cancelled.status.success(), "{cancelled:?}");
    assert!(
        text(&cancelled.stdout).contains("  cancelled  "),
        "{cancelled:?}"
    );
    let again = run(&["backfills", "cancel", &id])?;
    assert!(!again.status.success());
    let error = text(&again.stderr);
    assert!(error.contains("already cancelled"), "{error}");
    assert_eq!(error.trim().lines().count(), 1, "{error}");

    let listed = run(&["backfills", "list", "--rule", &rule_id, "--json"])?;
    assert!(listed.status.success(), "{listed:?}");
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout)?;
    let states: Vec<&str> = listed
        .as_array()
        .map(|list| list.iter().filter_map(|b| b["state"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(states, ["cancelled", "completed"], "{listed}");
    assert_eq!(listed[1]["deliveries_created"], 12);

    let bad = run(&["rules", "backfill", &rule_id, "--from", "yesterday"])?;
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("RFC 3339"), "{bad:?}");
    drop(env);
    Ok(())
}

/// `count` lead.created events stored as ingest would, before any rule.
async fn store_events(
    pool: &deadpool_postgres::Pool,
    workspace: WorkspaceId,
    count: usize,
) -> anyhow::Result<()> {
    let client = pool.get().await?;
    client
        .execute(
            "INSERT INTO event_types (workspace_id, name) VALUES ($1, 'lead.created')",
            &[&workspace.as_uuid()],
        )
        .await?;
    for n in 0..count {
        client
            .execute(
                "INSERT INTO events (id, workspace_id, event_type, schema_version, payload) \
                 VALUES ($1, $2, 'lead.created', 1, $3)",
                &[
                    &EventId::generate().as_uuid(),
                    &workspace.as_uuid(),
                    &serde_json::json!({"n": n}),
                ],
            )
            .await?;
    }
    Ok(())
}
