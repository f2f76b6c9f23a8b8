//! A fleet of `switchyard serve <service>` processes, each its own OS
//! process on its own fixed port, as replicas run in production: any
//! number of registries, ingests, routers and delivery processes against
//! one database and one Redis (whose URL is a parameter, so the same tests
//! run against a Redis Cluster). Each replica can be killed (`kill -9`),
//! stopped (`SIGTERM`, waiting for its exit code) and started again on the
//! same port; every process is killed on drop, even when the test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::time::Instant;
use tonic_health::pb::HealthCheckRequest;

use super::health_client;
use super::procs::free_port;

/// One replica of one service.
pub struct Replica {
    pub service: &'static str,
    pub port: u16,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Replica {
    /// Starts `switchyard serve <service>` on a free port with `env` (the
    /// `SWITCHYARD_*` settings), logging to `<dir>/<name>.log`.
    pub fn start(
        service: &'static str,
        name: &str,
        env: &[(String, String)],
        dir: &Path,
    ) -> anyhow::Result<Self> {
        let mut replica = Self {
            service,
            port: free_port()?,
            env: env.to_vec(),
            log: dir.join(format!("{name}.log")),
            child: None,
        };
        replica.spawn()?;
        Ok(replica)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .context("opening a replica's log")?;
        let addr_var = format!("SWITCHYARD_{}_ADDR", self.service.to_uppercase());
        let child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["serve", self.service])
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env(addr_var, format!("127.0.0.1:{}", self.port))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting switchyard serve {}", self.service))?;
        self.child = Some(child);
        Ok(())
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until its gRPC health answers `SERVING`.
    pub async fn wait_until_serving(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let mut client = health_client(&self.endpoint())?;
        loop {
            let request = HealthCheckRequest {
                service: String::new(),
            };
            if let Ok(response) = client.check(request).await
                && response.into_inner().status == 1
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} on port {} not serving within {timeout:?}:\n{}",
                    self.service,
                    self.port,
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `kill -9`: no shutdown, attempts cut mid-flight.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().context("killing a replica")?;
            child.wait().context("reaping a replica")?;
        }
        Ok(())
    }

    /// `SIGTERM`, then waits for the exit (at most `timeout`).
    pub async fn terminate(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            bail!("{} is not running", self.service);
        };
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .context("sending SIGTERM")?;
        if !sent.success() {
            bail!("kill -TERM {} failed", child.id());
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().context("waiting for a replica")? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "{} did not exit within {timeout:?} of SIGTERM:\n{}",
                    self.service,
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts it again on the same port (after a kill or a stop).
    pub fn start_again(&mut self) -> anyhow::Result<()> {
        self.spawn()
    }

    /// Its whole log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The end of its log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = self.log();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// The JSON log lines of a replica (`SWITCHYARD_LOG_FORMAT=json`) whose
/// message is `message` (fields are flattened into the line).
pub fn logged(log: &str, message: &str) -> Vec<serde_json::Value> {
    log.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["message"] == message)
        .collect()
}

/// The consumer names a delivery replica's log announced (one per life).
pub fn consumer_names(log: &str) -> Vec<String> {
    logged(log, "delivery engine started")
        .iter()
        .filter_map(|fields| fields["consumer"].as_str().map(str::to_string))
        .collect()
}

/// The consumers of the delivery group on `stream`.
pub async fn group_consumers(redis_url: &str, stream: &str) -> anyhow::Result<Vec<String>> {
    // A Redis Cluster URL too: the command goes to the stream's node.
    let mut redis = switchyard_core::redis_conn::Target::parse(redis_url, false)?
        .connect()
        .await?;
    let reply: Vec<std::collections::HashMap<String, redis::Value>> = redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(stream)
        .arg(switchyard_delivery_model::queue::CONSUMER_GROUP)
        .query_async(&mut redis)
        .await?;
    Ok(reply
        .iter()
        .filter_map(|consumer| match consumer.get("name") {
            Some(redis::Value::BulkString(name)) => {
                Some(String::from_utf8_lossy(name).into_owned())
            }
            _ => None,
        })
        .collect())
}
