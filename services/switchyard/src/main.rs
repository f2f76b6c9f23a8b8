//! `switchyard`: runs the services and the admin and client subcommands.
//!
//! A failed command prints one line, `error: <what failed>: <why>`, and
//! exits 1, whatever `RUST_BACKTRACE` says: a refused call or a missing
//! setting is the user's to fix, and a backtrace under it reads like a
//! crash. Bugs panic, and a panic still prints its backtrace.
//!
//! The process allocates through mimalloc: the event path allocates and
//! frees many small buffers per event (protobuf, JSON, SQL parameters), and
//! glibc's allocator took a fifth of the process's CPU in `perf` at full
//! speed (`scripts/profile.sh`).

use std::process::ExitCode;

use clap::Parser;
use switchyard::cli::{Cli, Command, KeysCommand, ServeTarget, WorkspaceCommand};
use switchyard::commands::{admin, client};
use switchyard::stack::ServiceKind;
use switchyard_core::config::Config;
use switchyard_core::telemetry;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Migrate => admin::migrate(&load()?).await,
        Command::Serve {
            service: Some(ServeTarget::Service(kind)),
        } => admin::serve_one(kind).await,
        Command::Serve {
            service: Some(ServeTarget::Console),
        } => admin::serve_console(load()?).await,
        Command::Serve { service: None } => {
            let config = Config::load()?;
            let services = ServiceKind::ALL.map(ServiceKind::telemetry);
            let telemetry =
                telemetry::init(config.log_format, "info", &config.telemetry, &services)?;
            let served = admin::serve_all(config).await;
            telemetry.shutdown();
            served
        }
        Command::Workspace {
            command: WorkspaceCommand::Create { slug },
        } => admin::create_workspace(&load()?, &slug).await,
        Command::Workspace {
            command: WorkspaceCommand::Retention { days, payload_days },
        } => client::set_retention(&client::client_from_env()?, days, payload_days).await,
        Command::Keys {
            command: KeysCommand::Rotate { batch_size },
        } => admin::rotate_keys(&load()?, batch_size, &mut std::io::stdout())
            .await
            .map(|_| ()),
        Command::Keys {
            command: KeysCommand::Generate,
        } => {
            println!("{}", switchyard_core::config::generate_master_key());
            Ok(())
        }
        Command::Receive { port, secret } => admin::receive(port, secret).await,
        Command::Health {
            endpoint,
            service,
            timeout,
        } => switchyard::commands::health::check(&endpoint, &service, timeout).await,
        Command::Demo { exit } => {
            let config = Config::load()?;
            // The walk-through prints its own story; service logs only on warnings.
            telemetry::init_logging_with_default(config.log_format, "warn");
            switchyard::demo::run(config, exit).await
        }
        Command::Schema { command } => {
            switchyard::commands::schema::run(&client::client_from_env()?, command).await
        }
        Command::Emit {
            file: Some(file), ..
        } => switchyard::commands::emit_file::emit(&client::client_from_env()?, &file).await,
        Command::Emit {
            event_type,
            payload,
            idempotency_key,
            file: None,
        } => {
            let (Some(event_type), Some(payload)) = (event_type, payload) else {
                anyhow::bail!("emit needs an event type and a payload, or --file");
            };
            let payload = client::read_payload(&payload, std::io::stdin().lock())?;
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
        Command::Rules { command } => {
            switchyard::commands::rules::run(&client::client_from_env()?, command).await
        }
        Command::Backfills { command } => {
            switchyard::commands::backfills::run(&client::client_from_env()?, command).await
        }
        Command::Deliveries { command } => {
            client::deliveries(&client::client_from_env()?, command).await
        }
        Command::Bench(args) => switchyard::commands::bench::main(args).await,
    }
}

/// Loads configuration and starts logging (to stderr, so stdout stays
/// parseable by scripts).
fn load() -> anyhow::Result<Config> {
    let config = Config::load()?;
    telemetry::init_logging(config.log_format);
    Ok(config)
}
