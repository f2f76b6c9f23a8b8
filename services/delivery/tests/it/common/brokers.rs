//! Real brokers for the broker kinds' tests: the machine's RabbitMQ
//! (`SWITCHYARD_TEST_AMQP_URL`, default amqp://127.0.0.1:5672, guest) and
//! NATS with JetStream (`SWITCHYARD_TEST_NATS_URL`, default
//! nats://127.0.0.1:4222), each test on names of its own.
//!
//! - [`RabbitQueue`]: an exclusive queue bound to `amq.topic` by a
//!   routing key, read with `basic.get`;
//! - [`JetStreamStream`]: a stream capturing `<prefix>.>`, read by
//!   sequence, deleted on [`JetStreamStream::delete`];
//! - [`TcpProxy`]: a test-owned proxy in front of RabbitMQ that can be cut
//!   (every connection dropped, nothing listening) and restored on the
//!   same port — a second RabbitMQ node per test is too heavy;
//! - [`NatsServer`]: a test-owned `nats-server -js` child on a free port
//!   with its own store directory, stopped and started again.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream;
use lapin::options::{BasicGetOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use switchyard_core::ids::ConnectionId;
use switchyard_tenancy::secrets::SecretField;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::{PATIENCE, TestEnv};

pub fn amqp_url() -> String {
    std::env::var("SWITCHYARD_TEST_AMQP_URL").unwrap_or_else(|_| "amqp://127.0.0.1:5672".into())
}

pub fn nats_url() -> String {
    std::env::var("SWITCHYARD_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::now_v7().simple())
}

impl TestEnv {
    /// A broker connection as the router writes it: `kind`, `config`, an
    /// optional sealed secret and a delivery `policy`.
    pub async fn insert_broker_connection(
        &self,
        kind: &str,
        config: serde_json::Value,
        secret: Option<(SecretField, &str)>,
        policy: serde_json::Value,
    ) -> ConnectionId {
        let id = ConnectionId::generate();
        self.execute(
            "INSERT INTO connections (id, workspace_id, name, kind, config, policy) \
             VALUES ($1, $2, 'broker', $3, $4, $5)",
            &[
                &id.as_uuid(),
                &self.workspace.as_uuid(),
                &kind,
                &config,
                &policy,
            ],
        )
        .await;
        if let Some(secret) = secret {
            self.seal(id, secret).await;
        }
        id
    }
}

/// An exclusive queue bound to `amq.topic` by `routing_key`.
pub struct RabbitQueue {
    _connection: lapin::Connection,
    channel: lapin::Channel,
    pub name: String,
}

impl RabbitQueue {
    pub async fn bind(routing_key: &str) -> Self {
        let url = format!(
            "{}/%2f",
            amqp_url().replacen("amqp://", "amqp://guest:guest@", 1)
        );
        let connection = lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
            .await
            .expect("connect to RabbitMQ");
        let channel = connection.create_channel().await.expect("channel");
        let name = unique("sytest-queue-");
        let options = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..QueueDeclareOptions::default()
        };
        channel
            .queue_declare(name.as_str().into(), options, FieldTable::default())
            .await
            .expect("declare the queue");
        channel
            .queue_bind(
                name.as_str().into(),
                "amq.topic".into(),
                routing_key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind the queue");
        Self {
            _connection: connection,
            channel,
            name,
        }
    }

    /// Every message in the queue now (acknowledged as read).
    pub async fn drain(&self) -> Vec<lapin::message::Delivery> {
        let mut messages = Vec::new();
        while let Some(message) = self
            .channel
            .basic_get(self.name.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
        {
            messages.push(message.delivery);
        }
        messages
    }

    /// Waits until `count` messages have been read, then any stragglers.
    pub async fn wait_for(&self, count: usize) -> Vec<lapin::message::Delivery> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut messages = Vec::new();
        while messages.len() < count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} of {count} messages arrived",
                messages.len()
            );
            messages.extend(self.drain().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        messages.extend(self.drain().await);
        messages
    }
}

/// A header of an AMQP message as text.
pub fn amqp_header(message: &lapin::message::Delivery, name: &str) -> Option<String> {
    let headers = message.properties.headers().as_ref()?;
    match headers.inner().get(name)? {
        lapin::types::AMQPValue::LongString(text) => Some(text.to_string()),
        other => Some(format!("{other:?}")),
    }
}

/// A JetStream stream capturing `<prefix>.>`.
pub struct JetStreamStream {
    pub context: jetstream::Context,
    pub name: String,
    pub prefix: String,
}

impl JetStreamStream {
    pub async fn create(url: &str) -> Self {
        let client = async_nats::connect(url).await.expect("connect to NATS");
        let context = jetstream::new(client);
        let prefix = unique("sytest_");
        let name = prefix.to_uppercase();
        context
            .create_stream(jetstream::stream::Config {
                name: name.clone(),
                subjects: vec![format!("{prefix}.>")],
                ..Default::default()
            })
            .await
            .expect("create the stream");
        Self {
            context,
            name,
            prefix,
        }
    }

    pub async fn count(&self) -> u64 {
        let mut stream = self
            .context
            .get_stream(&self.name)
            .await
            .expect("the stream");
        stream.info().await.expect("stream info").state.messages
    }

    /// Every stored message, by sequence.
    pub async fn messages(&self) -> Vec<jetstream::message::StreamMessage> {
        let stream = self
            .context
            .get_stream(&self.name)
            .await
            .expect("the stream");
        let count = self.count().await;
        let mut messages = Vec::new();
        for sequence in 1..=count {
            messages.push(
                stream
                    .get_raw_message(sequence)
                    .await
                    .expect("a stored message"),
            );
        }
        messages
    }

    pub async fn delete(self) {
        let _ = self.context.delete_stream(&self.name).await;
    }
}

/// A TCP proxy owned by the test, in front of `upstream`.
pub struct TcpProxy {
    pub addr: SocketAddr,
    upstream: SocketAddr,
    tasks: Option<JoinSet<()>>,
}

impl TcpProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut proxy = Self {
            addr,
            upstream,
            tasks: None,
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: TcpListener) {
        let upstream = self.upstream;
        let mut tasks = JoinSet::new();
        let (sender, mut accepted) = tokio::sync::mpsc::unbounded_channel::<TcpStream>();
        tasks.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if sender.send(client).is_err() {
                    return;
                }
            }
        });
        // Each proxied connection lives in the set, so a cut drops them all.
        let mut pipes = JoinSet::new();
        tasks.spawn(async move {
            while let Some(mut client) = accepted.recv().await {
                pipes.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        self.tasks = Some(tasks);
    }

    /// Drops every connection and stops listening.
    pub async fn cut(&mut self) {
        if let Some(mut tasks) = self.tasks.take() {
            tasks.shutdown().await;
        }
    }

    /// Listens again on the same port.
    pub async fn restore(&mut self) {
        let listener = TcpListener::bind(self.addr).await.expect("rebind the port");
        self.serve(listener);
    }
}

/// A `nats-server -js` child process owned by the test.
pub struct NatsServer {
    pub port: u16,
    store: PathBuf,
    child: Option<tokio::process::Child>,
}

impl NatsServer {
    pub async fn start() -> Self {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().expect("addr").port()
        };
        let store = std::env::temp_dir().join(unique("sytest-nats-"));
        let mut server = Self {
            port,
            store,
            child: None,
        };
        server.run().await;
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn run(&mut self) {
        let child = tokio::process::Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .arg("-sd")
            .arg(&self.store)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start nats-server (is it on PATH?)");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while async_nats::connect(self.url()).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "nats-server did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts again on the same port and store.
    pub async fn restart(&mut self) {
        self.run().await;
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.store);
    }
}
