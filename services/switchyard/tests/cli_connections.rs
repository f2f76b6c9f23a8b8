//! `switchyard connections create webhook|hubspot|mailchimp|rabbitmq|nats` as a user
//! meets it: credentials from the environment, never printed; a missing
//! setting named in one line; `connections list` shows every kind.

#[path = "support/router_cli.rs"]
mod router_cli;

use std::process::Command;

use router_cli::RouterForCli;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_saas_and_broker_connections() -> anyhow::Result<()> {
    let env = RouterForCli::start().await?;
    let (key, router) = (env.key.clone(), env.router.clone());
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SWITCHYARD_API_KEY", &key)
            .env("SWITCHYARD_ROUTER_ENDPOINT", &router)
            .args(args);
        for (name, value) in env {
            command.env(name, value);
        }
        command.output()
    };

    let hubspot = run(
        &[
            "connections",
            "create",
            "hubspot",
            "--name",
            "crm",
            "--base-url",
            "http://127.0.0.1:9",
        ],
        &[("SWITCHYARD_HUBSPOT_TOKEN", "pat-na1-cli-secret")],
    )?;
    let printed = String::from_utf8_lossy(&hubspot.stdout).into_owned();
    assert!(hubspot.status.success(), "{hubspot:?}");
    assert!(
        printed.starts_with("con_") && printed.contains("crm (hubspot)"),
        "{printed}"
    );
    assert!(!printed.contains("pat-na1-cli-secret"));

    let missing = run(
        &[
            "connections",
            "create",
            "mailchimp",
            "--name",
            "news",
            "--list-id",
            "57afe96172",
        ],
        &[],
    )?;
    assert!(!missing.status.success());
    let error = String::from_utf8_lossy(&missing.stderr).into_owned();
    assert!(error.contains("mailchimp.api_key"), "{error}");
    assert_eq!(error.trim().lines().count(), 1, "{error}");

    let mailchimp = run(
        &[
            "connections",
            "create",
            "mailchimp",
            "--name",
            "news",
            "--list-id",
            "57afe96172",
        ],
        &[("SWITCHYARD_MAILCHIMP_API_KEY", "0123abcd-us6")],
    )?;
    assert!(mailchimp.status.success(), "{mailchimp:?}");
    let webhook = run(
        &[
            "connections",
            "create",
            "--name",
            "hook",
            "--url",
            "http://127.0.0.1:9/hook",
        ],
        &[],
    )?;
    assert!(webhook.status.success(), "{webhook:?}");
    assert!(String::from_utf8_lossy(&webhook.stdout).contains("whsec_"));

    let rabbitmq = run(
        &[
            "connections",
            "create",
            "rabbitmq",
            "--name",
            "bus",
            "--url",
            "amqp://127.0.0.1:5672",
            "--username",
            "guest",
            "--exchange",
            "amq.topic",
            "--routing-key",
            "lead.created",
        ],
        &[("SWITCHYARD_BROKER_PASSWORD", "rabbit-cli-secret")],
    )?;
    let printed = String::from_utf8_lossy(&rabbitmq.stdout).into_owned();
    assert!(rabbitmq.status.success(), "{rabbitmq:?}");
    assert!(printed.contains("bus (rabbitmq)"), "{printed}");
    assert!(!printed.contains("rabbit-cli-secret"));
    let no_subject = run(
        &[
            "connections",
            "create",
            "nats",
            "--name",
            "stream",
            "--url",
            "nats://127.0.0.1:4222",
        ],
        &[],
    )?;
    assert!(!no_subject.status.success());
    let error = String::from_utf8_lossy(&no_subject.stderr).into_owned();
    assert!(error.contains("nats.subject"), "{error}");
    let nats = run(
        &[
            "connections",
            "create",
            "nats",
            "--name",
            "stream",
            "--url",
            "nats://127.0.0.1:4222",
            "--subject",
            "leads.created",
        ],
        &[("SWITCHYARD_NATS_TOKEN", "nats-cli-token")],
    )?;
    assert!(nats.status.success(), "{nats:?}");
    assert!(String::from_utf8_lossy(&nats.stdout).contains("stream (nats)"));

    let listed = run(&["connections", "list"], &[])?;
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    for kind in ["hubspot", "mailchimp", "webhook", "rabbitmq", "nats"] {
        assert!(listed.contains(kind), "{listed}");
    }
    env.stack.stop().await?;
    Ok(())
}
