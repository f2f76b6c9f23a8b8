//! `deploy/compose.yaml` cannot be run here (no Docker), so this reads it
//! as Compose would (anchors and `<<` merges resolved) and checks that every
//! container has what its command needs to start, the way
//! `docker compose config` would catch a missing piece, and more: the
//! settings the services refuse to start without.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_yaml::Value;

fn repository_file(path: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// One container running the switchyard image: its command and environment.
struct Container {
    command: Vec<String>,
    env: BTreeMap<String, String>,
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        other => panic!("expected a scalar, got {other:?}"),
    }
}

fn containers(compose: &Value) -> BTreeMap<String, Container> {
    let services = compose["services"].as_mapping().expect("services");
    let mut found = BTreeMap::new();
    for (name, service) in services {
        if service["image"].as_str() != Some("switchyard:dev") {
            continue;
        }
        let command = service["command"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{name:?} has no command"))
            .iter()
            .map(text)
            .collect();
        let env = service["environment"]
            .as_mapping()
            .unwrap_or_else(|| panic!("{name:?} has no environment"))
            .iter()
            .map(|(key, value)| (text(key), text(value)))
            .collect();
        found.insert(text(name), Container { command, env });
    }
    found
}

/// `${NAME:?message}`: Compose refuses to start without `NAME` set.
fn required_from_environment(value: &str, name: &str) -> bool {
    value.starts_with(&format!("${{{name}:?")) && value.ends_with('}')
}

#[test]
fn every_container_has_what_its_command_needs() {
    let mut compose: Value = serde_yaml::from_str(&repository_file("deploy/compose.yaml"))
        .expect("compose.yaml is YAML");
    compose.apply_merge().expect("merge keys resolve");
    let services = compose["services"].as_mapping().expect("services");
    let names: BTreeSet<String> = services.keys().map(text).collect();
    let containers = containers(&compose);

    // Each service runs once, and a migration runs before them.
    let commands: BTreeSet<String> = containers
        .values()
        .map(|container| container.command.join(" "))
        .collect();
    for command in [
        "migrate",
        "serve registry",
        "serve ingest",
        "serve router",
        "serve delivery",
        "serve console",
    ] {
        assert!(commands.contains(command), "no container runs `{command}`");
    }
    assert_eq!(containers.len(), 6, "{commands:?}");

    for (name, container) in &containers {
        let env = &container.env;
        let has = |key: &str| env.contains_key(key);
        for key in [
            "SWITCHYARD_DATABASE_URL",
            "SWITCHYARD_REDIS_URL",
            // workspace create (through migrate) and every service hash keys alike.
            "SWITCHYARD_API_KEY_PEPPER",
            "SWITCHYARD_INTERNAL_TOKEN",
            "SWITCHYARD_SECRETS__KEYS__K1",
        ] {
            assert!(has(key), "{name} lacks {key}");
        }
        // Secrets come from the operator's environment, never from the file.
        for (key, variable) in [
            ("SWITCHYARD_API_KEY_PEPPER", "SWITCHYARD_API_KEY_PEPPER"),
            ("SWITCHYARD_INTERNAL_TOKEN", "SWITCHYARD_INTERNAL_TOKEN"),
            ("SWITCHYARD_SECRETS__KEYS__K1", "SWITCHYARD_MASTER_KEY"),
        ] {
            assert!(
                required_from_environment(&env[key], variable),
                "{name}: {key} = {} is not ${{{variable}:?…}}",
                env[key]
            );
        }
        // A listener on loopback would be unreachable from the other containers.
        for key in [
            "SWITCHYARD_REGISTRY_ADDR",
            "SWITCHYARD_INGEST_ADDR",
            "SWITCHYARD_ROUTER_ADDR",
            "SWITCHYARD_DELIVERY_ADDR",
        ] {
            assert!(env[key].starts_with("0.0.0.0:"), "{name}: {key}");
        }
        // Ingest reaches registry and router, the router reaches delivery,
        // by their service names.
        for (key, service, addr) in [
            (
                "SWITCHYARD_REGISTRY_ENDPOINT",
                "registry",
                "SWITCHYARD_REGISTRY_ADDR",
            ),
            (
                "SWITCHYARD_ROUTER_ENDPOINT",
                "router",
                "SWITCHYARD_ROUTER_ADDR",
            ),
            (
                "SWITCHYARD_DELIVERY_ENDPOINT",
                "delivery",
                "SWITCHYARD_DELIVERY_ADDR",
            ),
        ] {
            let port = env[addr].rsplit(':').next().expect("a port");
            assert_eq!(env[key], format!("http://{service}:{port}"), "{name}");
        }
    }
    // The console listens beyond loopback and reaches every service by name.
    let console = containers
        .values()
        .find(|container| container.command.join(" ") == "serve console")
        .expect("a console container");
    assert!(console.env["SWITCHYARD_CONSOLE__ADDR"].starts_with("0.0.0.0:"));
    for (service, addr) in [
        ("registry", "SWITCHYARD_REGISTRY_ADDR"),
        ("ingest", "SWITCHYARD_INGEST_ADDR"),
        ("router", "SWITCHYARD_ROUTER_ADDR"),
        ("delivery", "SWITCHYARD_DELIVERY_ADDR"),
    ] {
        let port = console.env[addr].rsplit(':').next().expect("a port");
        let key = format!("SWITCHYARD_CONSOLE__{}_ENDPOINT", service.to_uppercase());
        assert_eq!(console.env[&key], format!("http://{service}:{port}"));
    }

    // Every dependency names a service; no host port is published twice.
    let mut host_ports = BTreeSet::new();
    for (name, service) in services {
        if let Some(depends) = service["depends_on"].as_mapping() {
            for dependency in depends.keys() {
                assert!(
                    names.contains(&text(dependency)),
                    "{name:?} -> {dependency:?}"
                );
            }
        }
        for port in service["ports"].as_sequence().into_iter().flatten() {
            let host = text(port).split(':').next().expect("host port").to_string();
            assert!(host_ports.insert(host.clone()), "host port {host} twice");
        }
    }
}

#[test]
fn every_variable_compose_sets_is_documented() {
    let mut compose: Value = serde_yaml::from_str(&repository_file("deploy/compose.yaml"))
        .expect("compose.yaml is YAML");
    compose.apply_merge().expect("merge keys resolve");
    let readme = repository_file("README.md");
    for (name, container) in containers(&compose) {
        for key in container.env.keys() {
            let documented = match key.strip_prefix("SWITCHYARD_SECRETS__KEYS__") {
                Some(_) => readme.contains("`SWITCHYARD_SECRETS__KEYS__<ID>`"),
                None => readme.contains(&format!("`{key}`")),
            };
            assert!(
                documented || key.starts_with("OTEL_"),
                "{name}: {key} is not in the README"
            );
        }
    }
    assert!(
        readme.contains("docker compose -f deploy/compose.yaml up"),
        "the README shows how to start the compose file"
    );
}
