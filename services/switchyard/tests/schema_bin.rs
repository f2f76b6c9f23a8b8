//! The `switchyard` binary's schema commands against a running registry,
//! as CI would call them: exit codes and output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use switchyard::stack::{ServiceKind, Stack};
use switchyard_core::config::Config;
use switchyard_testkit::TestDatabase;

/// A directory of its own, removed on drop.
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn switchyard(endpoint: &str, key: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(args)
        .env("SWITCHYARD_API_KEY", key)
        .env("SWITCHYARD_REGISTRY_ENDPOINT", endpoint)
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("written");
}

// Multi-threaded: the binary is awaited with a blocking wait, and the
// registry under test must keep serving meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_check_and_their_exit_codes() -> anyhow::Result<()> {
    let database = TestDatabase::create().await?;
    let mut config = Config {
        database_url: database.url.clone(),
        database_pool_size: 4,
        registry_addr: "127.0.0.1:0".parse()?,
        // Not started, but a stack reserves every service's address: the
        // default ports may be taken by another stack on the machine.
        ingest_addr: "127.0.0.1:0".parse()?,
        router_addr: "127.0.0.1:0".parse()?,
        delivery_addr: "127.0.0.1:0".parse()?,
        ..Config::default()
    };
    // Nothing here reads metrics; the default port may be taken.
    config.telemetry.metrics_addr = None;
    let stack = Stack::start(config, &[ServiceKind::Registry]).await?;
    let pool = switchyard_core::db::pool(&database.url, 2)?;
    let (_, key) = switchyard_tenancy::auth::create_workspace(
        &pool,
        &switchyard_tenancy::auth::KeyHasher::new(None),
        "ci",
    )
    .await
    .map_err(|error| anyhow::anyhow!("{error}"))?;
    let endpoint = stack.endpoints().registry;
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let dir =
        Dir(std::env::temp_dir().join(format!("sy-schema-bin-{}-{nanos}", std::process::id())));
    std::fs::create_dir_all(&dir.0)?;
    let path = dir.0.to_str().expect("utf-8 path");
    write(
        &dir.0,
        "lead.created.json",
        r#"{"type": "object", "properties": {"id": {"type": "string"}}}"#,
    );

    let pushed = switchyard(&endpoint, &key, &["schema", "push", "--dir", path]);
    assert!(pushed.status.success(), "{pushed:?}");
    assert_eq!(stdout(&pushed), "lead.created: created v1\n");
    let checked = switchyard(&endpoint, &key, &["schema", "check", "--dir", path]);
    assert!(checked.status.success(), "{checked:?}");
    assert_eq!(stdout(&checked), "lead.created: unchanged (v1)\n");

    // Closing the content model breaks BACKWARD: check fails the build.
    write(
        &dir.0,
        "lead.created.json",
        r#"{"type": "object", "additionalProperties": false, "properties": {"id": {"type": "string"}}}"#,
    );
    let broken = switchyard(&endpoint, &key, &["schema", "check", "--dir", path]);
    assert!(!broken.status.success());
    assert_eq!(
        stdout(&broken),
        "lead.created: refused\n  /additionalProperties: closed (version 1)\n"
    );
    assert!(
        String::from_utf8_lossy(&broken.stderr).contains("1 of 1 schemas did not pass"),
        "{broken:?}"
    );

    // `register` is the old name of `push`; one file, with a mode.
    let file = dir.0.join("lead.created.json");
    let file = file.to_str().expect("utf-8 path");
    let registered = switchyard(
        &endpoint,
        &key,
        &[
            "schema",
            "register",
            "order.placed",
            file,
            "--compatibility",
            "full",
        ],
    );
    assert!(registered.status.success(), "{registered:?}");
    assert_eq!(stdout(&registered), "order.placed: created v1\n");
    let listed = switchyard(&endpoint, &key, &["schema", "list"]);
    assert_eq!(
        stdout(&listed),
        "lead.created  v1  BACKWARD\norder.placed  v1  FULL\n"
    );
    stack.stop().await
}
