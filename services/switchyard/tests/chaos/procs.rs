//! The processes the chaos test owns and breaks: a Postgres cluster and a
//! Redis server of its own (never the machine's shared ones), each on a
//! free port, and the `switchyard` binary serving all four services on
//! fixed free ports, so the SDK finds it again after a `kill -9`.
//!
//! Postgres runs as the `postgres` user when the test runs as root (initdb
//! refuses root); everything lives in one temporary directory removed on
//! drop, and every process is stopped on drop, even when the test fails.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A loopback port free now (bound, then released).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding port 0")?;
    Ok(listener.local_addr()?.port())
}

fn answers(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// Polls until `port` accepts connections.
pub async fn wait_for_port(port: u16, what: &str, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while !answers(port) {
        if Instant::now() > deadline {
            bail!("{what} did not answer on port {port} within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Runs a short command to its end without stalling the runtime's other
/// tasks (the load keeps its pace while `pg_ctl` waits).
fn output(command: &mut Command) -> std::io::Result<std::process::Output> {
    tokio::task::block_in_place(|| command.output())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// A temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> anyhow::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos();
        let path = std::env::temp_dir().join(format!("{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Kept for a post-mortem when asked (the logs are inside).
        if std::env::var_os("SWITCHYARD_CHAOS_KEEP").is_some() {
            eprintln!("kept {}", self.0.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The newest installed Postgres's `bin` directory.
fn postgres_bin() -> anyhow::Result<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    candidates.sort_by_key(|bin| {
        bin.parent()
            .and_then(|version| version.file_name())
            .and_then(|name| name.to_str())
            .and_then(|name| name.parse::<u32>().ok())
            .unwrap_or(0)
    });
    if let Some(bin) = candidates.pop() {
        return Ok(bin);
    }
    let which = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
        .context("looking for initdb")?;
    let path = String::from_utf8_lossy(&which.stdout).trim().to_string();
    match Path::new(&path).parent() {
        Some(dir) if !path.is_empty() => Ok(dir.to_path_buf()),
        _ => bail!(
            "the chaos test needs the Postgres server binaries (initdb, pg_ctl): \
             run ./scripts/services.sh as root, or install postgresql"
        ),
    }
}

/// A Postgres cluster of the test's own.
pub struct OwnedPostgres {
    bin: PathBuf,
    data: PathBuf,
    pub port: u16,
    as_postgres_user: bool,
}

impl OwnedPostgres {
    /// Creates a cluster in `dir` and starts it on a free port.
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        let bin = postgres_bin()?;
        let as_postgres_user = is_root();
        let data = dir.join("postgres");
        std::fs::create_dir_all(&data)?;
        if as_postgres_user {
            // The cluster's owner must be able to reach and own its directory.
            set_mode(dir, 0o755)?;
            let status = Command::new("chown")
                .args(["postgres"])
                .arg(&data)
                .status()
                .context("chown of the data directory")?;
            if !status.success() {
                bail!(
                    "chown postgres {} failed (is there a postgres user?)",
                    data.display()
                );
            }
        }
        let postgres = Self {
            bin,
            data,
            port: free_port()?,
            as_postgres_user,
        };
        let mut command = postgres.command("initdb");
        command
            .arg("-D")
            .arg(&postgres.data)
            .args(["-U", "postgres", "--auth=trust", "--no-sync"])
            .stdout(Stdio::null());
        let initdb = output(&mut command).context("running initdb")?;
        if !initdb.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&initdb.stderr));
        }
        postgres.pg_ctl_start().await?;
        Ok(postgres)
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.as_postgres_user {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    async fn pg_ctl_start(&self) -> anyhow::Result<()> {
        // fsync is off: the test kills processes, never the machine, and the
        // kernel keeps what Postgres wrote; a loaded CI disk stays out of it.
        let options = format!(
            "-h 127.0.0.1 -p {} -k {} -c fsync=off -c max_connections=200",
            self.port,
            self.data.display()
        );
        let mut command = self.command("pg_ctl");
        command
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.data.join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .stdout(Stdio::null());
        let output = output(&mut command).context("running pg_ctl start")?;
        if !output.status.success() {
            bail!(
                "pg_ctl start failed: {}\n{}",
                String::from_utf8_lossy(&output.stderr),
                std::fs::read_to_string(self.data.join("server.log")).unwrap_or_default()
            );
        }
        wait_for_port(self.port, "postgres", Duration::from_secs(30)).await
    }

    /// Stops the server the way a restart does (`fast`: sessions are cut,
    /// in-flight transactions roll back).
    pub fn stop(&self) -> anyhow::Result<()> {
        let mut command = self.command("pg_ctl");
        command
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-t", "60", "-m", "fast", "stop"])
            .stdout(Stdio::null());
        let output = output(&mut command).context("running pg_ctl stop")?;
        if !output.status.success() {
            bail!(
                "pg_ctl stop failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    pub async fn start_again(&self) -> anyhow::Result<()> {
        self.pg_ctl_start().await
    }
}

impl Drop for OwnedPostgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))
}

/// A Redis server of the test's own, without persistence: restarting it
/// loses every key.
pub struct OwnedRedis {
    pub port: u16,
    child: Option<Child>,
}

impl OwnedRedis {
    pub async fn start() -> anyhow::Result<Self> {
        let mut redis = Self {
            port: free_port()?,
            child: None,
        };
        redis.spawn().await?;
        Ok(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting redis-server (run ./scripts/services.sh as root, or install redis-server)")?;
        self.child = Some(child);
        wait_for_port(self.port, "redis", Duration::from_secs(30)).await
    }

    /// `kill -9`: the data set is gone with the process.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().context("killing redis-server")?;
            child.wait().context("reaping redis-server")?;
        }
        Ok(())
    }

    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        self.spawn().await
    }
}

impl Drop for OwnedRedis {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// The `switchyard serve` process: all four services, on ports fixed for
/// the whole test.
pub struct SwitchyardProcess {
    env: Vec<(String, String)>,
    log: PathBuf,
    pub ports: [u16; 4],
    child: Option<Child>,
}

impl SwitchyardProcess {
    /// Starts `switchyard serve` with `env` (the `SWITCHYARD_*` settings
    /// besides the listen addresses), logging to `log`.
    pub fn start(env: Vec<(String, String)>, log: PathBuf) -> anyhow::Result<Self> {
        let ports = [free_port()?, free_port()?, free_port()?, free_port()?];
        let mut process = Self {
            env,
            log,
            ports,
            child: None,
        };
        process.spawn()?;
        Ok(process)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .context("opening the switchyard log")?;
        let names = ["REGISTRY", "INGEST", "ROUTER", "DELIVERY"];
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard"));
        command
            .arg("serve")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            // `serve` starts the console too: any free port.
            .env("SWITCHYARD_CONSOLE__ADDR", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        for (name, port) in names.iter().zip(self.ports) {
            command.env(
                format!("SWITCHYARD_{name}_ADDR"),
                format!("127.0.0.1:{port}"),
            );
        }
        self.child = Some(command.spawn().context("starting switchyard serve")?);
        Ok(())
    }

    pub fn endpoint(&self, index: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[index])
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// `kill -9`: no shutdown, no flushing, attempts cut mid-flight.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().context("killing switchyard")?;
            child.wait().context("reaping switchyard")?;
        }
        Ok(())
    }

    pub fn start_again(&mut self) -> anyhow::Result<()> {
        self.spawn()
    }

    /// The end of its log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for SwitchyardProcess {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}
