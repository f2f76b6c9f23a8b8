//! `switchyard`: runs the services and the admin and client subcommands.

use clap::Parser;
use switchyard::cli::{Cli, Command, WorkspaceCommand};
use switchyard::commands::{admin, client};
use switchyard_core::config::Config;
use switchyard_core::telemetry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Migrate => admin::migrate(&load()?).await,
        Command::Serve { service } => admin::serve(load()?, service).await,
        Command::Workspace {
            command: WorkspaceCommand::Create { slug },
        } => admin::create_workspace(&load()?, &slug).await,
        Command::Receive { port, secret } => admin::receive(port, secret).await,
        Command::Demo { exit } => {
            let config = Config::load()?;
            // The walk-through prints its own story; service logs only on warnings.
            telemetry::init_logging_with_default(config.log_format, "warn");
            switchyard::demo::run(config, exit).await
        }
        Command::Schema { command } => client::schema(&client::client_from_env()?, command).await,
        Command::Emit {
            event_type,
            payload,
            idempotency_key,
        } => {
            client::emit(
                &client::client_from_env()?,
                event_type,
                payload,
                idempotency_key,
            )
            .await
        }
        Command::Connections { command } => {
            client::connections(&client::client_from_env()?, command).await
        }
        Command::Rules { command } => client::rules(&client::client_from_env()?, command).await,
        Command::Deliveries { command } => {
            client::deliveries(&client::client_from_env()?, command).await
        }
    }
}

/// Loads configuration and starts logging (to stderr, so stdout stays
/// parseable by scripts).
fn load() -> anyhow::Result<Config> {
    let config = Config::load()?;
    telemetry::init_logging(config.log_format);
    Ok(config)
}
