//! The command line. Configuration comes from `SWITCHYARD_CONFIG` (a TOML
//! file) and `SWITCHYARD_*` variables (see `switchyard_core::config`); the
//! client subcommands read `SWITCHYARD_API_KEY`, the
//! `SWITCHYARD_*_ENDPOINT` variables and, against a TLS deployment,
//! `SWITCHYARD_CA_CERT` (plus `SWITCHYARD_CLIENT_CERT` and
//! `SWITCHYARD_CLIENT_KEY` for mutual TLS).

use clap::{Parser, Subcommand};

use crate::stack::ServiceKind;

#[derive(Debug, Parser)]
#[command(
    name = "switchyard",
    version,
    about = "Switchyard: one typed event in, reliable deliveries out"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per run: the size of the `Connections` variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply database migrations (creates the database if missing).
    Migrate,
    /// Run services: all four and the web console in one process, or the
    /// one named.
    Serve {
        /// registry, ingest, router, delivery or console; everything when
        /// omitted.
        service: Option<ServeTarget>,
    },
    /// Manage workspaces (`create` talks to Postgres directly).
    Workspace {
        #[command(subcommand)]
        command: WorkspaceCommand,
    },
    /// Manage the master keys that encrypt connection credentials (talks to
    /// Postgres directly).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Ask a service's gRPC health (`grpc.health.v1`) whether it serves;
    /// exits 0 only for SERVING. Container health checks run it.
    Health {
        /// The service's endpoint, e.g. `http://127.0.0.1:50052`.
        endpoint: String,
        /// The service name to ask about; the whole server when empty.
        #[arg(long, default_value = "")]
        service: String,
        /// How long to wait for the answer.
        #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
        timeout: std::time::Duration,
    },
    /// Run a webhook receiver that prints each request and checks its signature.
    Receive {
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// The connection's `whsec_…` secret, to verify signatures.
        #[arg(long, env = "SWITCHYARD_RECEIVER_SECRET")]
        secret: Option<String>,
    },
    /// Start the whole stack and walk one event from schema to signed webhook.
    Demo {
        /// Exit after the walk-through instead of serving until Ctrl-C.
        #[arg(long)]
        exit: bool,
    },
    /// Push, check, list and show event type schemas.
    Schema {
        #[command(subcommand)]
        command: SchemaCommand,
    },
    /// Emit an event.
    Emit {
        #[arg(required_unless_present = "file")]
        event_type: Option<String>,
        /// The payload: a JSON object, `@FILE` to read it from a file, or
        /// `-` to read it from standard input (as curl and grpcurl do; a
        /// large payload does not fit on a command line).
        #[arg(required_unless_present = "file")]
        payload: Option<String>,
        #[arg(long, conflicts_with = "file")]
        idempotency_key: Option<String>,
        /// Emit many events instead: an NDJSON file (`-` for standard
        /// input), one `{"event_type": …, "payload": {…}}` per line
        /// (optionally `idempotency_key`, `schema_version`), sent through
        /// `EmitEvents` a thousand at a time; prints a line per event.
        #[arg(long, conflicts_with_all = ["event_type", "payload"])]
        file: Option<String>,
    },
    /// Manage connections.
    Connections {
        #[command(subcommand)]
        command: ConnectionCommand,
    },
    /// Manage rules.
    Rules {
        #[command(subcommand)]
        command: RuleCommand,
    },
    /// Follow, list and cancel backfills (`rules backfill` starts one).
    Backfills {
        #[command(subcommand)]
        command: crate::commands::backfills::BackfillCommand,
    },
    /// Inspect deliveries.
    Deliveries {
        #[command(subcommand)]
        command: DeliveryCommand,
    },
    /// Load-test the stack: emit events to local receivers, print a JSON report.
    Bench(crate::commands::bench::BenchArgs),
}

/// What `serve` runs when given a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServeTarget {
    Service(ServiceKind),
    /// The web console (`console.addr`), calling the services at the
    /// `console.*_endpoint` settings.
    Console,
}

impl std::str::FromStr for ServeTarget {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "console" {
            return Ok(Self::Console);
        }
        text.parse().map(Self::Service).map_err(|_| {
            format!("unknown service `{text}` (registry, ingest, router, delivery, console)")
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace; its API key is printed once, alone on the last line.
    Create { slug: String },
    /// Set how long the workspace of SWITCHYARD_API_KEY keeps its history
    /// (through the API; needs an admin key).
    Retention {
        /// Days events, deliveries and attempts are kept (1-3650).
        #[arg(long)]
        days: u32,
        /// Days payloads are kept (at most --days); as long as --days when
        /// omitted.
        #[arg(long)]
        payload_days: Option<u32>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-encrypt every stored credential (connection credentials and HS256
    /// verification secrets) under the active key (secrets.active_key), a
    /// batch per transaction; safe while services run. Also encrypts
    /// credentials left in plain text by older versions.
    Rotate {
        /// Values re-encrypted per transaction.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..=10_000))]
        batch_size: i64,
    },
    /// Print a new random master key (base64 of 32 bytes) for
    /// SWITCHYARD_SECRETS__KEYS__<ID>.
    Generate,
}

pub use crate::commands::schema::SchemaCommand;

/// The kinds `connections create` makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ConnectionKindArg {
    Webhook,
    Hubspot,
    Mailchimp,
    Salesforce,
    Rabbitmq,
    Nats,
}

// Parsed once per run: the size of the `Create` variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum ConnectionCommand {
    /// Create a connection: a webhook (the default; prints its signing
    /// secret once), a HubSpot, Mailchimp or Salesforce connection, or a
    /// RabbitMQ exchange or NATS JetStream subject. Credentials are
    /// best passed through their environment variables, not the command
    /// line; they are stored encrypted and never shown again.
    Create {
        #[arg(value_enum, default_value_t = ConnectionKindArg::Webhook)]
        kind: ConnectionKindArg,
        #[arg(long)]
        name: String,
        /// Webhook: the URL the body is POSTed to. RabbitMQ:
        /// amqp://host[:port][/vhost]; NATS: nats://host[:port] (no
        /// credentials in either).
        #[arg(long, required_if_eq_any([("kind", "webhook"), ("kind", "rabbitmq"), ("kind", "nats")]))]
        url: Option<String>,
        /// Webhook: a static header, `Name: value`; repeatable.
        #[arg(long = "header")]
        headers: Vec<String>,
        /// HubSpot: the private-app token.
        #[arg(long, env = "SWITCHYARD_HUBSPOT_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// HubSpot: the unique contact property to upsert by (default email).
        #[arg(long)]
        id_property: Option<String>,
        /// Mailchimp: the API key (its `-us6` suffix names the data centre).
        #[arg(long, env = "SWITCHYARD_MAILCHIMP_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
        /// Mailchimp: the audience (list) id.
        #[arg(long)]
        list_id: Option<String>,
        /// Mailchimp: status of new members (default subscribed).
        #[arg(long)]
        status_if_new: Option<String>,
        /// Salesforce: the connected app's consumer key.
        #[arg(long)]
        client_id: Option<String>,
        /// Salesforce: the connected app's consumer secret.
        #[arg(
            long,
            env = "SWITCHYARD_SALESFORCE_CLIENT_SECRET",
            hide_env_values = true
        )]
        client_secret: Option<String>,
        /// Salesforce: the sObject (default Lead).
        #[arg(long)]
        object: Option<String>,
        /// Salesforce: upsert by this external-id field instead of creating.
        #[arg(long)]
        external_id_field: Option<String>,
        /// RabbitMQ, NATS: the broker user.
        #[arg(long)]
        username: Option<String>,
        /// RabbitMQ, NATS (with --username): the broker user's password.
        #[arg(long, env = "SWITCHYARD_BROKER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// NATS: token authentication (without --username).
        #[arg(long, env = "SWITCHYARD_NATS_TOKEN", hide_env_values = true)]
        nats_token: Option<String>,
        /// RabbitMQ: the exchange (default: the default exchange).
        #[arg(long)]
        exchange: Option<String>,
        /// RabbitMQ: the routing key.
        #[arg(long)]
        routing_key: Option<String>,
        /// NATS: the JetStream subject.
        #[arg(long)]
        subject: Option<String>,
        /// RabbitMQ, NATS: the rule's mapping builds an envelope
        /// `{"body", "headers"?, "exchange"?, "routing_key"?, "subject"?}`.
        #[arg(long)]
        routed_by_mapping: bool,
        /// Replaces the API's base URL (HubSpot, Mailchimp) or login URL
        /// (Salesforce: My Domain, sandbox, local stand-ins); checked like
        /// a webhook URL.
        #[arg(long)]
        base_url: Option<String>,
    },
    List,
    /// Issue a new signing secret (printed once); the previous one keeps
    /// signing beside it for the grace period.
    RotateSecret {
        /// The connection, `con_…`.
        id: String,
        /// How long the previous secret keeps signing (e.g. 24h, 30m, 0s to
        /// revoke it at once; at most 7 days).
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        grace: std::time::Duration,
    },
}

pub use crate::commands::rules::RuleCommand;

#[derive(Debug, Subcommand)]
pub enum DeliveryCommand {
    /// The deliveries of one event.
    List { event_id: String },
    /// One delivery and its attempts.
    Show { id: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_serve_with_and_without_a_service() {
        let all = Cli::try_parse_from(["switchyard", "serve"]).expect("parses");
        assert!(matches!(all.command, Command::Serve { service: None }));
        let one = Cli::try_parse_from(["switchyard", "serve", "router"]).expect("parses");
        assert!(matches!(
            one.command,
            Command::Serve {
                service: Some(ServeTarget::Service(ServiceKind::Router))
            }
        ));
        let console = Cli::try_parse_from(["switchyard", "serve", "console"]).expect("parses");
        assert!(matches!(
            console.command,
            Command::Serve {
                service: Some(ServeTarget::Console)
            }
        ));
        assert!(Cli::try_parse_from(["switchyard", "serve", "nope"]).is_err());
    }

    #[test]
    fn parses_key_rotation_and_secret_rotation() {
        let keys = Cli::try_parse_from(["switchyard", "keys", "rotate"]).expect("parses");
        assert!(matches!(
            keys.command,
            Command::Keys {
                command: KeysCommand::Rotate { batch_size: 100 }
            }
        ));
        let rotate = Cli::try_parse_from([
            "switchyard",
            "connections",
            "rotate-secret",
            "con_x",
            "--grace",
            "1h",
        ])
        .expect("parses");
        assert!(matches!(
            rotate.command,
            Command::Connections {
                command: ConnectionCommand::RotateSecret { ref id, grace }
            } if id == "con_x" && grace == std::time::Duration::from_secs(3600)
        ));
    }
}
