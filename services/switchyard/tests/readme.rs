//! The README's "Running it yourself" section, run as written: every line
//! of its `sh` blocks, in order, through `bash`, against the stack those
//! lines start, each step's output checked. Every `buf curl` example of the
//! README runs too. The README cannot drift from what works: a step this
//! test cannot recognise fails it, as does a step whose output is wrong.
//!
//! What the test supplies, because a test cannot do it as a person would:
//! - the binary: `cargo build` and the `PATH` export are checked, not run;
//!   `switchyard` is the binary this test was built with;
//! - isolation: its own database, Redis prefix and ports (`SWITCHYARD_*`
//!   variables; the README's `127.0.0.1:5005x` and receiver port `8099` are
//!   rewritten to them), so it runs beside other tests;
//! - placeholders: `sy_live_…`, `whsec_…`, `con_…`, `evt_…`, `dlv_…` become
//!   the newest such value an earlier step printed, as a reader would copy
//!   them;
//! - long-running steps (`serve`, and lines ending in `&`) run in the
//!   background until the test ends; a `serve` replaces the one before it
//!   (the README offers them as alternatives: one process, or four).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use switchyard_testkit::{TestDatabase, TestRedis};

const PLACEHOLDER_PREFIXES: &[&str] = &["sy_live", "whsec", "con", "evt", "dlv"];

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

/// The `sh` blocks of the section headed `heading`, one step per command
/// (continuation lines joined).
fn section_steps(readme: &str, heading: &str) -> Vec<String> {
    let start = readme
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("the README has no section `{heading}`"));
    let section = &readme[start + 1..];
    let end = section[3..]
        .find("\n## ")
        .map_or(section.len(), |end| end + 3);
    steps_of_blocks(&section[..end])
}

fn steps_of_blocks(text: &str) -> Vec<String> {
    let mut steps = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if !in_block {
            in_block = trimmed == "```sh";
            continue;
        }
        if trimmed == "```" {
            in_block = false;
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head);
                pending.push(' ');
            }
            None => {
                pending.push_str(trimmed);
                steps.push(std::mem::take(&mut pending));
            }
        }
    }
    steps
}

/// A free local port (released at once; taken again by the process under
/// test a moment later).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Output lines of a process running in the background.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn follow(&self, stream: impl std::io::Read + Send + 'static) {
        let lines = self.0.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                lines.lock().expect("lines").push(line);
            }
        });
    }

    fn count(&self, needle: &str) -> usize {
        let lines = self.0.lock().expect("lines");
        lines.iter().filter(|line| line.contains(needle)).count()
    }

    fn text(&self) -> String {
        self.0.lock().expect("lines").join("\n")
    }
}

struct Background {
    step: String,
    child: Child,
    stdout: Lines,
    stderr: Lines,
}

impl Background {
    /// SIGTERM, so services stop as an operator's Ctrl-C would.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Runner {
    repository: PathBuf,
    /// What the steps export, over the test's own settings.
    env: BTreeMap<String, String>,
    /// Every step's stdout, oldest first: where placeholders come from.
    outputs: Vec<String>,
    /// README text → this test's value (ports).
    rewrites: Vec<(String, String)>,
    serves: Vec<Background>,
    others: Vec<Background>,
    receiver_port: u16,
}

impl Drop for Runner {
    fn drop(&mut self) {
        for background in self.serves.drain(..).chain(self.others.drain(..)) {
            background.stop();
        }
    }
}

impl Runner {
    fn new(database: &TestDatabase, redis: &TestRedis) -> Self {
        let binary = PathBuf::from(env!("CARGO_BIN_EXE_switchyard"));
        let bin_dir = binary.parent().expect("the binary's directory");
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".to_string())
        );
        let mut env = BTreeMap::from([
            ("PATH".to_string(), path),
            (
                "HOME".to_string(),
                std::env::var("HOME").unwrap_or_default(),
            ),
            ("SWITCHYARD_DATABASE_URL".to_string(), database.url.clone()),
            ("SWITCHYARD_REDIS_URL".to_string(), redis.url.clone()),
            ("SWITCHYARD_REDIS_PREFIX".to_string(), redis.prefix.clone()),
            (
                "SWITCHYARD_TELEMETRY__METRICS_ADDR".to_string(),
                "127.0.0.1:0".to_string(),
            ),
            // `serve` starts the console too: any free port.
            (
                "SWITCHYARD_CONSOLE__ADDR".to_string(),
                "127.0.0.1:0".to_string(),
            ),
            ("SWITCHYARD_LOG_FORMAT".to_string(), "json".to_string()),
        ]);
        let mut rewrites = Vec::new();
        for (service, default_port) in [
            ("REGISTRY", 50051),
            ("INGEST", 50052),
            ("ROUTER", 50053),
            ("DELIVERY", 50054),
        ] {
            let addr = format!("127.0.0.1:{}", free_port());
            env.insert(format!("SWITCHYARD_{service}_ADDR"), addr.clone());
            env.insert(
                format!("SWITCHYARD_{service}_ENDPOINT"),
                format!("http://{addr}"),
            );
            rewrites.push((format!("127.0.0.1:{default_port}"), addr));
        }
        let receiver_port = free_port();
        rewrites.push(("8099".to_string(), receiver_port.to_string()));
        Self {
            repository: repository(),
            env,
            outputs: Vec::new(),
            rewrites,
            serves: Vec::new(),
            others: Vec::new(),
            receiver_port,
        }
    }

    fn bash(&self, script: &str) -> Command {
        let mut command = Command::new("bash");
        command
            .args(["-c", script])
            .current_dir(&self.repository)
            .env_clear()
            .envs(&self.env)
            .stdin(Stdio::null());
        command
    }

    /// The step as this test runs it: ports rewritten, placeholders filled.
    fn prepare(&self, step: &str) -> String {
        let mut line = step.to_string();
        for (from, to) in &self.rewrites {
            line = line.replace(from, to);
        }
        while let Some(at) = line.find('…') {
            let prefix_start = line[..at]
                .rfind(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .map_or(0, |i| i + 1);
            let prefix = line[prefix_start..at].trim_end_matches('_').to_string();
            assert!(
                PLACEHOLDER_PREFIXES.contains(&prefix.as_str()),
                "unknown placeholder `{}…` in `{step}`",
                &line[prefix_start..at]
            );
            let value = self.newest(&prefix).unwrap_or_else(|| {
                panic!("no earlier step printed a `{prefix}_` value for `{step}`")
            });
            line.replace_range(prefix_start..at + '…'.len_utf8(), &value);
        }
        line
    }

    /// The newest `<prefix>_…` value any step printed.
    fn newest(&self, prefix: &str) -> Option<String> {
        let needle = format!("{prefix}_");
        self.outputs.iter().rev().find_map(|output| {
            let at = output.rfind(&needle)?;
            let value: String = output[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '/' | '='))
                .collect();
            (value.len() > needle.len()).then_some(value)
        })
    }

    /// Runs a step to completion; returns its stdout.
    fn run(&mut self, line: &str) -> String {
        let output = self.bash(line).output().expect("bash runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "README step failed: {line}\nstdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        self.outputs.push(stdout.clone());
        stdout
    }

    /// Runs an `export NAME=…` step and keeps the variable.
    fn export(&mut self, line: &str) -> (String, String) {
        let name = line
            .trim_start_matches("export ")
            .split('=')
            .next()
            .expect("a variable name")
            .to_string();
        let value = self.run(&format!("{line}\nprintf '%s' \"${name}\""));
        self.env.insert(name.clone(), value.clone());
        (name, value)
    }

    fn start(&mut self, line: &str) -> Background {
        let mut child = self
            .bash(&format!("exec {line}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bash starts");
        let (stdout, stderr) = (Lines::default(), Lines::default());
        stdout.follow(child.stdout.take().expect("stdout"));
        stderr.follow(child.stderr.take().expect("stderr"));
        Background {
            step: line.to_string(),
            child,
            stdout,
            stderr,
        }
    }

    /// Starts the `serve` commands of a step (several when joined by `&`),
    /// after stopping the ones before, and waits until the four services
    /// say they listen.
    fn serve(&mut self, line: &str) {
        for earlier in self.serves.drain(..) {
            earlier.stop();
        }
        for command in line.split('&').map(str::trim).filter(|c| !c.is_empty()) {
            assert!(command.starts_with("switchyard serve"), "{command}");
            let started = self.start(command);
            self.serves.push(started);
        }
        // Four gRPC servers (the registry's serves two services).
        wait_for(Duration::from_secs(90), || {
            for serve in &mut self.serves {
                if let Ok(Some(status)) = serve.child.try_wait() {
                    panic!(
                        "`{}` exited ({status}):\n{}",
                        serve.step,
                        serve.stderr.text()
                    );
                }
            }
            let listening: usize = self
                .serves
                .iter()
                .map(|serve| {
                    serve.stderr.count("\"listening\"") + serve.stdout.count("\"listening\"")
                })
                .sum();
            listening == 4
        });
    }
}

fn wait_for(timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "gave up after {timeout:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `buf`, from the repository's `package.json`; installed when missing (the
/// test command installs it too).
fn ensure_buf(repository: &Path) {
    if repository.join("node_modules/.bin/buf").exists() {
        return;
    }
    let installed = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--silent"])
        .current_dir(repository)
        .status()
        .expect("npm runs");
    assert!(installed.success(), "npm ci failed");
}

fn assert_contains(output: &str, expected: &str, step: &str) {
    assert!(
        output.contains(expected),
        "`{step}` printed:\n{output}\nexpected: {expected}"
    );
}

/// Runs one step and checks what it printed.
fn run_step(runner: &mut Runner, step: &str) {
    // A trailing comment is the reader's, not bash's: its placeholders
    // (`prints con_…`) are not values to fill in.
    let without_comment = step.split(" # ").next().unwrap_or(step).trim();
    let line = runner.prepare(without_comment);
    let command = line.clone();
    let receiver = format!("http://127.0.0.1:{}", runner.receiver_port);

    if command.starts_with("cargo build") {
        assert!(command.contains("-p switchyard"), "{step}");
        return; // the test runs the binary it was built with
    }
    if command.starts_with("export PATH=") {
        assert!(command.contains("target/release"), "{step}");
        return; // the test's PATH starts with that binary's directory
    }
    if command.starts_with("export ") {
        let (name, value) = runner.export(&line);
        match name.as_str() {
            "SWITCHYARD_API_KEY_PEPPER" | "SWITCHYARD_SECRETS__KEYS__K1" => {
                let key = base64::engine::general_purpose::STANDARD
                    .decode(value.trim())
                    .unwrap_or_else(|_| panic!("{name} is not base64: {value}"));
                assert_eq!(key.len(), 32, "{name}");
            }
            "SWITCHYARD_INTERNAL_TOKEN" => {
                assert_eq!(value.len(), 64, "{name}");
                assert!(value.chars().all(|c| c.is_ascii_hexdigit()), "{name}");
            }
            "SWITCHYARD_ALLOWED_DESTINATION_NETWORKS" => assert_eq!(value, "127.0.0.0/8"),
            "SWITCHYARD_API_KEY" => assert!(value.starts_with("sy_live_"), "{value}"),
            other => panic!("no check for the README's `export {other}`"),
        }
        return;
    }
    if command.starts_with("switchyard serve") {
        runner.serve(&command);
        return;
    }
    if let Some(receive) = command.strip_suffix('&') {
        let receive = receive.trim();
        assert!(receive.starts_with("switchyard receive"), "{step}");
        let started = runner.start(receive);
        let stdout = started.stdout.clone();
        runner.others.push(started);
        wait_for(Duration::from_secs(20), || {
            stdout.count(&format!("receiving webhooks on {receiver}/")) == 1
        });
        return;
    }
    if command.starts_with("npx buf curl") {
        ensure_buf(&runner.repository);
        let output = runner.run(&line);
        let response: serde_json::Value =
            serde_json::from_str(&output).unwrap_or_else(|_| panic!("{step}: {output}"));
        let event_type = if command.contains("lead.qualified") {
            assert_eq!(response["version"], 1, "{output}");
            "lead.qualified"
        } else {
            // A schema that requires only `email` reads every earlier event.
            assert_eq!(response["version"], 2, "{output}");
            "lead.created"
        };
        assert_eq!(response["eventType"], event_type, "{output}");
        return;
    }

    let subcommand: Vec<&str> = command.split_whitespace().skip(1).take(2).collect();
    match subcommand.as_slice() {
        ["migrate", ..] => {
            let output = runner.run(&line);
            assert_contains(&output, "migrations applied: ", step);
        }
        ["workspace", "create"] => {
            let output = runner.run(&line);
            let key = output.lines().last().unwrap_or_default();
            assert!(key.starts_with("sy_live_"), "{output}");
            assert_contains(&output, "workspace acme created: ws_", step);
        }
        ["schema", "register"] => {
            let output = runner.run(&line);
            assert_eq!(output, "lead.created: created v1\n");
        }
        ["connections", "create"] => {
            let output = runner.run(&line);
            assert!(output.starts_with("con_"), "{output}");
            assert_contains(&output, &format!(" crm -> {receiver}/hook\n"), step);
            assert_contains(&output, "\nwhsec_", step);
        }
        ["rules", "create"] => {
            let output = runner.run(&line);
            assert!(output.starts_with("rul_"), "{output}");
            assert_contains(&output, "  -  lead.created -> con_", step);
            assert_contains(&output, "enabled=true", step);
        }
        ["emit", ..] => {
            let output = runner.run(&line);
            assert!(output.starts_with("evt_"), "{output}");
            assert!(output.ends_with(" (schema version 1)\n"), "{output}");
        }
        ["deliveries", "list"] => {
            // Delivery is asynchronous: a reader would look again.
            let mut output = String::new();
            wait_for(Duration::from_secs(30), || {
                output = runner.run(&line);
                output.contains("status=succeeded")
            });
            assert_eq!(output.lines().count(), 1, "{output}");
            assert_contains(&output, "status=succeeded attempts=1", step);
        }
        ["deliveries", "show"] => {
            let output = runner.run(&line);
            assert_contains(&output, "status=succeeded attempts=1", step);
            assert_contains(&output, ": HTTP 204 in ", step); // the receiver answers 204
            // The test exports no traces: the line says so.
            assert_contains(&output, "  trace: none (", step);
        }
        ["rules", "apply"] => {
            let output = runner.run(&line);
            assert_contains(&output, "+ big-leads-to-crm", step);
            assert_contains(&output, "applied: ", step);
        }
        ["rules", "test"] => {
            let output = runner.run(&line);
            assert_contains(&output, "2 of 2 rules would deliver", step);
            assert_contains(&output, r#"big-leads-to-crm  lead.created -> con_"#, step);
            assert_contains(&output, r#""email":"grace@example.com""#, step);
        }
        _ => panic!("no check for the README step `{step}`"),
    }
}

// Multi-threaded only for the blocking waits; everything runs in processes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_walk_through_works_as_written() -> anyhow::Result<()> {
    let readme = std::fs::read_to_string(repository().join("README.md"))?;
    let steps = section_steps(&readme, "Running it yourself");
    assert!(steps.len() > 20, "{steps:#?}");
    // The reflection examples of other sections.
    let buf_elsewhere: Vec<String> = steps_of_blocks(&readme)
        .into_iter()
        .filter(|step| step.starts_with("npx buf curl") && !steps.contains(step))
        .collect();
    assert_eq!(buf_elsewhere.len(), 1, "{buf_elsewhere:#?}");

    let database = TestDatabase::create().await?;
    let redis = TestRedis::new();
    let mut runner = Runner::new(&database, &redis);
    tokio::task::block_in_place(|| {
        for step in steps.iter().chain(&buf_elsewhere) {
            run_step(&mut runner, step);
        }
    });

    // The receiver got the webhooks, signed with the secret it was given:
    // one per emit for the first rule, and none from the applied rule yet.
    let receiver = runner.others.first().expect("the receiver runs");
    let webhooks = receiver.stdout.clone();
    wait_for(Duration::from_secs(30), || {
        webhooks.count("POST /hook webhook-id=dlv_") >= 2
    });
    let printed = receiver.stdout.text();
    assert_eq!(
        receiver.stdout.count("POST /hook webhook-id=dlv_"),
        2,
        "{printed}"
    );
    assert_eq!(
        receiver.stdout.count("| signature verified"),
        2,
        "{printed}"
    );
    assert_contains(&printed, r#""email":"ada@example.com""#, "receive");
    // The services ran as four processes at the end, as the README's second
    // block starts them.
    assert_eq!(runner.serves.len(), 4);
    drop(runner);
    Ok(())
}
