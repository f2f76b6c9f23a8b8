//! The `switchyard` binary as a user meets it: `emit` reads its payload
//! from an argument, `@FILE` or `-` (standard input), a failed command is
//! one line even with `RUST_BACKTRACE=1`, `schema --help` shows `register`,
//! and a lone service missing a setting says so before it listens.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use switchyard::stack::{ServiceKind, Stack};
use switchyard_testkit::{TestDatabase, TestRedis, secrets_config};

fn switchyard() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    // Nothing from the machine's environment (a deployment's variables).
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_reads_the_payload_from_a_file_or_stdin_and_errors_are_one_line() -> anyhow::Result<()>
{
    let database = TestDatabase::create().await?;
    let redis = TestRedis::new();
    let any_port = "127.0.0.1:0".parse()?;
    let mut config = switchyard_core::config::Config {
        database_url: database.url.clone(),
        database_pool_size: 4,
        redis_url: redis.url.clone(),
        redis_prefix: redis.prefix.clone(),
        registry_addr: any_port,
        ingest_addr: any_port,
        router_addr: any_port,
        delivery_addr: any_port,
        secrets: secrets_config(),
        ..Default::default()
    };
    config.telemetry.metrics_addr = None;
    let stack = Stack::start(config, &ServiceKind::ALL).await?;
    let pool = switchyard_core::db::pool(&database.url, 2)?;
    let (_, key) = switchyard_tenancy::auth::create_workspace(
        &pool,
        &switchyard_tenancy::auth::KeyHasher::new(None),
        "cli",
    )
    .await
    .map_err(|error| anyhow::anyhow!("{error}"))?;
    let endpoints = stack.endpoints();
    let client = |args: &[&str]| {
        let mut command = switchyard();
        command
            .args(args)
            .env("SWITCHYARD_API_KEY", &key)
            .env("SWITCHYARD_REGISTRY_ENDPOINT", &endpoints.registry)
            .env("SWITCHYARD_INGEST_ENDPOINT", &endpoints.ingest)
            .env("RUST_BACKTRACE", "1");
        command
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("sy-cli-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let schema = dir.join("lead.schema.json");
    std::fs::write(
        &schema,
        r#"{"type":"object","required":["id"],"properties":{"id":{"type":"string"},"note":{"type":"string"}}}"#,
    )?;
    let registered = client(&[
        "schema",
        "register",
        "lead.created",
        schema.to_str().expect("utf-8"),
    ])
    .output()?;
    assert_eq!(
        stdout(&registered),
        "lead.created: created v1\n",
        "{registered:?}"
    );

    // @FILE: a payload far larger than a command line may be.
    let payload_path = dir.join("lead.json");
    let big_note = "n".repeat(200_000);
    std::fs::write(
        &payload_path,
        format!(r#"{{"id":"from-file","note":"{big_note}"}}"#),
    )?;
    let from_file = client(&[
        "emit",
        "lead.created",
        &format!("@{}", payload_path.display()),
    ])
    .output()?;
    assert!(from_file.status.success(), "{}", stderr(&from_file));
    assert!(
        stdout(&from_file).ends_with(" (schema version 1)\n"),
        "{from_file:?}"
    );

    // `-`: standard input.
    let mut piped = client(&["emit", "lead.created", "-", "--idempotency-key", "piped"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    piped
        .stdin
        .take()
        .expect("stdin")
        .write_all(br#"{"id":"from-stdin"}"#)?;
    let piped = piped.wait_with_output()?;
    assert!(piped.status.success(), "{}", stderr(&piped));
    assert!(stdout(&piped).starts_with("evt_"), "{piped:?}");

    let client_db = pool.get().await?;
    let rows = client_db
        .query(
            "SELECT payload->>'id', length(payload->>'note') FROM events ORDER BY received_at",
            &[],
        )
        .await?;
    let stored: Vec<(String, Option<i32>)> =
        rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    assert_eq!(
        stored,
        vec![
            ("from-file".to_string(), Some(200_000)),
            ("from-stdin".to_string(), None)
        ]
    );

    // --file: many events through EmitEvents, a line of output each.
    let ndjson = dir.join("events.ndjson");
    std::fs::write(
        &ndjson,
        concat!(
            r#"{"event_type":"lead.created","payload":{"id":"batch-1"}}"#,
            "\n",
            r#"{"event_type":"lead.created","payload":{"note":"no id"}}"#,
            "\n\n",
            r#"{"event_type":"lead.created","payload":{"id":"again"},"idempotency_key":"piped"}"#,
            "\n",
        ),
    )?;
    let batch = client(&["emit", "--file", ndjson.to_str().expect("utf-8")]).output()?;
    assert_eq!(batch.status.code(), Some(1), "{batch:?}");
    let lines: Vec<String> = stdout(&batch).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].starts_with("1: evt_"), "{lines:?}");
    assert!(
        lines[1].starts_with("2: InvalidArgument: ") && lines[1].contains("id"),
        "{lines:?}"
    );
    let first_piped = stdout(&piped)
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        lines[2],
        format!("4: {first_piped} (duplicate of an earlier emit)"),
        "{lines:?}"
    );
    assert_eq!(stderr(&batch), "error: 1 of 3 events refused\n");
    let batched: i64 = client_db
        .query_one(
            "SELECT count(*) FROM events WHERE payload->>'id' = 'batch-1'",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(batched, 1);

    // Failures, with RUST_BACKTRACE=1: one line each, exit code 1.
    let missing = client(&["emit", "lead.created", "@/nonexistent/lead.json"]).output()?;
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        stderr(&missing),
        "error: reading the payload from /nonexistent/lead.json: No such file or directory (os error 2)\n"
    );
    let refused = client(&["emit", "lead.created", r#"{"note":"no id"}"#]).output()?;
    assert_eq!(refused.status.code(), Some(1));
    let refused_text = stderr(&refused);
    assert!(
        refused_text.starts_with("error: InvalidArgument: "),
        "{refused_text}"
    );
    assert_eq!(refused_text.lines().count(), 1, "{refused_text}");
    let no_key = switchyard()
        .args(["schema", "list"])
        .env("RUST_BACKTRACE", "1")
        .output()?;
    assert_eq!(no_key.status.code(), Some(1));
    assert_eq!(
        stderr(&no_key),
        "error: set SWITCHYARD_API_KEY to a workspace API key (see `switchyard workspace create`): \
         environment variable not found\n"
    );
    std::fs::remove_dir_all(&dir)?;
    stack.stop().await
}

#[test]
fn schema_help_lists_register() -> anyhow::Result<()> {
    let help = switchyard().args(["schema", "--help"]).output()?;
    let text = stdout(&help);
    let push = text
        .lines()
        .find(|line| line.trim_start().starts_with("push"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(push.contains("[alias: register]"), "{text}");
    Ok(())
}

#[test]
fn a_lone_service_missing_its_settings_fails_before_it_listens() -> anyhow::Result<()> {
    for (service, expected) in [
        (
            "ingest",
            "error: internal_token (SWITCHYARD_INTERNAL_TOKEN) is required when services run as \
             separate processes; give every service the same value\n",
        ),
        (
            "router",
            "error: internal_token (SWITCHYARD_INTERNAL_TOKEN) is required",
        ),
        ("delivery", "error: no master key configured"),
    ] {
        let output = switchyard()
            .args(["serve", service])
            .env("RUST_BACKTRACE", "1")
            .env("SWITCHYARD_TELEMETRY__METRICS_ADDR", "127.0.0.1:0")
            .env(
                format!("SWITCHYARD_{}_ADDR", service.to_uppercase()),
                "127.0.0.1:0",
            )
            .output()?;
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{service}: {text}");
        assert!(text.starts_with(expected), "{service}: {text}");
        assert_eq!(text.lines().count(), 1, "{service}: {text}");
        assert!(!text.contains("listening"), "{service}: {text}");
    }
    Ok(())
}
