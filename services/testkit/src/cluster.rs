//! A throwaway Redis Cluster for tests: three `redis-server
//! --cluster-enabled yes` processes on free local ports, joined by
//! `redis-cli --cluster create … --cluster-yes` (three primaries, the
//! default even slot split), and killed, with their directory removed,
//! when the [`TestCluster`] is dropped.
//!
//! 1. [`TestCluster::start`] picks, for each node, a port whose cluster
//!    bus port (port + 10000) is free too, and starts the servers without
//!    persistence in a temporary directory.
//! 2. It waits for each to answer `PING`, creates the cluster, and waits
//!    until every node reports `cluster_state:ok`.
//! 3. [`TestCluster::url`] is the `redis+cluster://` URL services take.
//!
//! Nothing is skipped: without `redis-server` or `redis-cli` on `PATH`,
//! `start` fails with a message saying so, and the test fails with it.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Nodes in the cluster (all primaries).
pub const NODES: usize = 3;
/// Longest wait for the servers and the cluster to come up.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running 3-node Redis Cluster; stopped on drop.
pub struct TestCluster {
    ports: Vec<u16>,
    servers: Vec<Child>,
    dir: PathBuf,
}

impl TestCluster {
    /// Starts the cluster (blocking work runs off the async runtime).
    pub async fn start() -> anyhow::Result<Self> {
        tokio::task::spawn_blocking(Self::start_blocking)
            .await
            .context("the cluster start task panicked")?
    }

    /// Starts the cluster, blocking the calling thread.
    pub fn start_blocking() -> anyhow::Result<Self> {
        require("redis-server")?;
        require("redis-cli")?;
        let dir =
            std::env::temp_dir().join(format!("sy-cluster-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut cluster = Self {
            ports: Vec::new(),
            servers: Vec::new(),
            dir,
        };
        for _ in 0..NODES {
            let port = free_port_pair(&cluster.ports)?;
            let server = Command::new("redis-server")
                .args(["--port", &port.to_string()])
                .args(["--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes"])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .args(["--cluster-node-timeout", "5000"])
                .args(["--save", ""])
                .args(["--appendonly", "no"])
                .arg("--dir")
                .arg(&cluster.dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting redis-server")?;
            cluster.ports.push(port);
            cluster.servers.push(server);
        }
        let deadline = Instant::now() + START_TIMEOUT;
        for &port in &cluster.ports {
            wait_until(deadline, || {
                cli(port, &["PING"]).is_ok_and(|answer| answer.trim() == "PONG")
            })
            .with_context(|| format!("redis-server on port {port} did not answer PING"))?;
        }
        let nodes: Vec<String> = cluster
            .ports
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .context("running redis-cli --cluster create")?;
        if !created.status.success() {
            bail!(
                "redis-cli --cluster create failed: {}{}",
                String::from_utf8_lossy(&created.stdout),
                String::from_utf8_lossy(&created.stderr)
            );
        }
        for &port in &cluster.ports {
            wait_until(deadline, || {
                cli(port, &["CLUSTER", "INFO"]).is_ok_and(|info| info.contains("cluster_state:ok"))
            })
            .with_context(|| {
                format!("the cluster node on port {port} never reported cluster_state:ok")
            })?;
        }
        Ok(cluster)
    }

    /// The URL services take: `redis+cluster://127.0.0.1:p1,…`.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .ports
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        format!(
            "{}{}",
            switchyard_core::redis_conn::CLUSTER_SCHEME,
            nodes.join(",")
        )
    }

    /// The nodes' ports, in creation order.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// The port of the primary serving `key`'s slot (from `CLUSTER
    /// NODES`).
    pub fn node_of(&self, key: &str) -> anyhow::Result<u16> {
        let slot = self.slot_of(key)?;
        let nodes = cli(self.ports[0], &["CLUSTER", "NODES"])?;
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // <id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <state> <slots…>
            let Some(address) = fields.get(1) else {
                continue;
            };
            let port: u16 = address
                .split(['@', ':'])
                .nth(1)
                .and_then(|port| port.parse().ok())
                .context("CLUSTER NODES line without a port")?;
            for range in fields.iter().skip(8) {
                let (low, high) = range.split_once('-').unwrap_or((range, range));
                if let (Ok(low), Ok(high)) = (low.parse::<u16>(), high.parse::<u16>())
                    && (low..=high).contains(&slot)
                {
                    return Ok(port);
                }
            }
        }
        bail!("no node serves slot {slot} of {key}")
    }

    /// The hash slot of `key`.
    pub fn slot_of(&self, key: &str) -> anyhow::Result<u16> {
        cli(self.ports[0], &["CLUSTER", "KEYSLOT", key])?
            .trim()
            .parse()
            .context("CLUSTER KEYSLOT answered no number")
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for server in &mut self.servers {
            let _ = server.kill();
            let _ = server.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Fails with an explanation when `program` is not on `PATH`.
fn require(program: &str) -> anyhow::Result<()> {
    match Command::new(program).arg("--version").output() {
        Ok(output) if output.status.success() => Ok(()),
        _ => bail!(
            "{program} is not on PATH: the Redis Cluster tests start their own cluster and need \
             redis-server and redis-cli (apt-get install redis-server)"
        ),
    }
}

/// A port that is free, whose bus port (port + 10000) is free too, and
/// that is not in `taken`.
fn free_port_pair(taken: &[u16]) -> anyhow::Result<u16> {
    for _ in 0..100 {
        let listener = TcpListener::bind(("127.0.0.1", 0)).context("binding a free port")?;
        let port = listener.local_addr()?.port();
        if port > 55_000 || taken.contains(&port) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return Ok(port);
        }
    }
    bail!("found no free port whose cluster bus port is free too")
}

/// One `redis-cli -p <port>` command's output.
fn cli(port: u16, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .context("running redis-cli")?;
    if !output.status.success() {
        bail!(
            "redis-cli {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn wait_until(deadline: Instant, mut ready: impl FnMut() -> bool) -> anyhow::Result<()> {
    while Instant::now() < deadline {
        if ready() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("timed out")
}
