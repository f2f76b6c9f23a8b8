//! `deploy/k8s` cannot be applied here (no cluster; `scripts/check-k8s.sh`
//! validates it against the API schemas). This reads the manifests and
//! checks what the schemas cannot: every Deployment finds the settings its
//! service refuses to start without in the ConfigMap and Secret, its ports
//! and probes match the addresses there, the endpoints name real Services,
//! stops outlast the drain, the Secret holds only marked placeholders, and
//! `deploy/compose.yaml` carries the same settings, health checks and stop
//! periods.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde_yaml::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn repository_file(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// Every document of every resource file the kustomization lists.
fn resources() -> Vec<Value> {
    let kustomization: Value =
        serde_yaml::from_str(&repository_file("deploy/k8s/kustomization.yaml")).expect("YAML");
    let mut documents = Vec::new();
    for file in kustomization["resources"].as_sequence().expect("resources") {
        let path = format!("deploy/k8s/{}", file.as_str().expect("a file name"));
        for document in serde_yaml::Deserializer::from_str(&repository_file(&path)) {
            documents.push(Value::deserialize(document).expect("a YAML document"));
        }
    }
    documents
}

fn of_kind<'a>(documents: &'a [Value], kind: &str) -> Vec<&'a Value> {
    documents.iter().filter(|d| d["kind"] == kind).collect()
}

fn named<'a>(documents: &'a [Value], kind: &str, name: &str) -> &'a Value {
    of_kind(documents, kind)
        .into_iter()
        .find(|d| d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        other => panic!("expected a scalar, got {other:?}"),
    }
}

fn entries(map: &Value) -> BTreeMap<String, String> {
    map.as_mapping()
        .expect("a mapping")
        .iter()
        .map(|(key, value)| (text(key), text(value)))
        .collect()
}

/// The ConfigMap's data and the Secret's string data.
fn settings(documents: &[Value]) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    (
        entries(&named(documents, "ConfigMap", "switchyard-settings")["data"]),
        entries(&named(documents, "Secret", "switchyard-secrets")["stringData"]),
    )
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit(':')
        .next()
        .expect("a port")
        .parse()
        .expect("a port number")
}

/// `http://host:port` → (host, port).
fn host_and_port(endpoint: &str) -> (String, u16) {
    let rest = endpoint
        .strip_prefix("http://")
        .expect("an http:// endpoint");
    let (host, port) = rest.split_once(':').expect("host:port");
    (host.to_string(), port.parse().expect("a port number"))
}

const GRPC_SERVICES: [(&str, &str); 4] = [
    ("registry", "SWITCHYARD_REGISTRY_ADDR"),
    ("ingest", "SWITCHYARD_INGEST_ADDR"),
    ("router", "SWITCHYARD_ROUTER_ADDR"),
    ("delivery", "SWITCHYARD_DELIVERY_ADDR"),
];

/// What every service (and the migration) needs: it refuses to start, or
/// misbehaves across replicas, without them.
const REQUIRED: [&str; 5] = [
    "SWITCHYARD_DATABASE_URL",
    "SWITCHYARD_REDIS_URL",
    "SWITCHYARD_API_KEY_PEPPER",
    "SWITCHYARD_INTERNAL_TOKEN",
    "SWITCHYARD_SECRETS__KEYS__K1",
];

/// The only container of a workload's pod template.
fn container(workload: &Value) -> &Value {
    let containers = workload["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .expect("containers");
    assert_eq!(containers.len(), 1);
    &containers[0]
}

fn reads_settings_and_secrets(container: &Value) -> bool {
    let sources = container["envFrom"].as_sequence().expect("envFrom");
    let has = |kind: &str, name: &str| sources.iter().any(|s| s[kind]["name"] == name);
    has("configMapRef", "switchyard-settings") && has("secretRef", "switchyard-secrets")
}

#[test]
fn the_kustomization_lists_every_manifest() {
    let listed: BTreeSet<String> =
        serde_yaml::from_str::<Value>(&repository_file("deploy/k8s/kustomization.yaml"))
            .expect("YAML")["resources"]
            .as_sequence()
            .expect("resources")
            .iter()
            .map(text)
            .collect();
    let present: BTreeSet<String> = std::fs::read_dir(root().join("deploy/k8s"))
        .expect("deploy/k8s")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".yaml") && name != "kustomization.yaml")
        .collect();
    assert_eq!(listed, present);
}

#[test]
fn every_workload_finds_what_its_service_needs() {
    let documents = resources();
    let (config, secret) = settings(&documents);
    let all: BTreeMap<&String, &String> = config.iter().chain(secret.iter()).collect();
    for key in REQUIRED {
        assert!(all.contains_key(&key.to_string()), "{key} is set nowhere");
    }
    // Secrets are in the Secret only, and only as marked placeholders.
    for key in REQUIRED
        .iter()
        .filter(|key| **key != "SWITCHYARD_REDIS_URL")
    {
        assert!(!config.contains_key(*key), "{key} is in the ConfigMap");
        assert!(
            secret[*key].contains("REPLACE-ME"),
            "{key} is not a placeholder"
        );
    }

    let deployments = of_kind(&documents, "Deployment");
    let services = of_kind(&documents, "Service");
    assert_eq!(deployments.len(), 5, "four services and the console");
    for (name, addr_key) in GRPC_SERVICES {
        let full = format!("switchyard-{name}");
        let deployment = named(&documents, "Deployment", &full);
        let container = container(deployment);
        assert!(reads_settings_and_secrets(container), "{name}");
        assert_eq!(
            container["args"],
            serde_yaml::to_value(["serve", name]).expect("args")
        );
        // Listening beyond loopback, on the port the probes and Service use.
        assert!(config[addr_key].starts_with("0.0.0.0:"), "{addr_key}");
        let port = port_of(&config[addr_key]);
        assert_eq!(
            container["ports"][0]["containerPort"].as_u64(),
            Some(port.into())
        );
        let readiness = &container["readinessProbe"]["grpc"];
        assert_eq!(readiness["port"].as_u64(), Some(port.into()), "{name}");
        // Readiness asks about the whole server (it follows Postgres and
        // the stop); liveness about the service that only says "running".
        assert!(readiness["service"].is_null(), "{name}");
        for probe in ["livenessProbe", "startupProbe"] {
            let grpc = &container[probe]["grpc"];
            assert_eq!(grpc["port"].as_u64(), Some(port.into()), "{name} {probe}");
            assert_eq!(
                grpc["service"].as_str(),
                Some(switchyard_core::grpc::LIVENESS_SERVICE),
                "{name} {probe}"
            );
        }
        let service = named(&documents, "Service", &full);
        assert_eq!(
            service["spec"]["ports"][0]["port"].as_u64(),
            Some(port.into())
        );
        assert_eq!(
            service["spec"]["selector"],
            deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
                .as_str()
                .map(|label| {
                    let mut selector = serde_yaml::Mapping::new();
                    selector.insert("app.kubernetes.io/name".into(), label.into());
                    Value::Mapping(selector)
                })
                .expect("a name label")
        );
        // Each service has a disruption budget.
        named(&documents, "PodDisruptionBudget", &full);
    }
    // Every endpoint names a Service on its port.
    for (key, value) in config.iter().filter(|(key, _)| key.ends_with("_ENDPOINT")) {
        if key.starts_with("OTEL_") {
            continue;
        }
        let (host, port) = host_and_port(value);
        let service = services
            .iter()
            .find(|s| s["metadata"]["name"] == host.as_str())
            .unwrap_or_else(|| panic!("{key}: no Service {host}"));
        let ports: Vec<u64> = service["spec"]["ports"]
            .as_sequence()
            .expect("ports")
            .iter()
            .filter_map(|p| p["port"].as_u64())
            .collect();
        assert!(
            ports.contains(&port.into()),
            "{key}: {host} has no port {port}"
        );
    }
    let console = container(named(&documents, "Deployment", "switchyard-console"));
    assert!(reads_settings_and_secrets(console));
    assert!(config["SWITCHYARD_CONSOLE__ADDR"].starts_with("0.0.0.0:"));

    // The migration runs `migrate` with the same settings.
    let job = named(&documents, "Job", "switchyard-migrate");
    let migrate = container(job);
    assert_eq!(
        migrate["args"],
        serde_yaml::to_value(["migrate"]).expect("args")
    );
    assert!(reads_settings_and_secrets(migrate));

    // The delivery autoscaler scales the delivery Deployment.
    let hpa = named(&documents, "HorizontalPodAutoscaler", "switchyard-delivery");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "switchyard-delivery");
}

fn seconds(text: &str) -> Duration {
    humantime::parse_duration(text).unwrap_or_else(|error| panic!("{text}: {error}"))
}

fn pre_stop_pause(container: &Value) -> Duration {
    let command = &container["lifecycle"]["preStop"]["exec"]["command"];
    match command
        .as_sequence()
        .map(|c| c.iter().map(text).collect::<Vec<_>>())
    {
        Some(words) if words[0] == "sleep" => Duration::from_secs(words[1].parse().expect("secs")),
        _ => Duration::ZERO,
    }
}

#[test]
fn a_stop_outlasts_the_drain() {
    let documents = resources();
    let (config, _) = settings(&documents);
    let grace = seconds(&config["SWITCHYARD_DELIVERY__SHUTDOWN_GRACE"]);
    let delivery = named(&documents, "Deployment", "switchyard-delivery");
    let termination = Duration::from_secs(
        delivery["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
            .as_u64()
            .expect("terminationGracePeriodSeconds"),
    );
    let pause = pre_stop_pause(container(delivery));
    // The pause, the grace, then the hand-back: some seconds to spare.
    assert!(
        termination >= pause + grace + Duration::from_secs(10),
        "{termination:?} < {pause:?} + {grace:?} + 10 s"
    );
}

/// The environment, health check port and stop period of each Compose
/// container running `serve <service>`.
struct ComposeService {
    env: BTreeMap<String, String>,
    health_port: Option<u16>,
    stop_grace: Option<Duration>,
}

fn compose_services() -> BTreeMap<String, ComposeService> {
    let mut compose: Value =
        serde_yaml::from_str(&repository_file("deploy/compose.yaml")).expect("compose YAML");
    compose.apply_merge().expect("merge keys resolve");
    let mut found = BTreeMap::new();
    for (_, service) in compose["services"].as_mapping().expect("services") {
        let command: Vec<String> = match service["command"].as_sequence() {
            Some(command) => command.iter().map(text).collect(),
            None => continue,
        };
        if command.len() != 2 || command[0] != "serve" {
            continue;
        }
        let health_port = service["healthcheck"]["test"].as_sequence().map(|test| {
            let words: Vec<String> = test.iter().map(text).collect();
            assert_eq!(&words[..3], ["CMD", "switchyard", "health"]);
            host_and_port(&words[3]).1
        });
        found.insert(
            command[1].clone(),
            ComposeService {
                env: entries(&service["environment"]),
                health_port,
                stop_grace: service["stop_grace_period"].as_str().map(seconds),
            },
        );
    }
    found
}

#[test]
fn compose_carries_the_same_settings_health_checks_and_stop_periods() {
    let documents = resources();
    let (config, secret) = settings(&documents);
    let compose = compose_services();
    assert_eq!(compose.len(), 5, "four services and the console");
    // Differ on purpose: Kubernetes logs JSON for its collectors.
    let kubernetes_only = ["SWITCHYARD_LOG_FORMAT"];
    for (name, service) in &compose {
        let console_only =
            |key: &String| key.starts_with("SWITCHYARD_CONSOLE__") && name != "console";
        let k8s_keys: BTreeSet<&String> = config
            .keys()
            .chain(secret.keys())
            .filter(|key| !kubernetes_only.contains(&key.as_str()) && !console_only(key))
            .collect();
        let compose_keys: BTreeSet<&String> = service.env.keys().collect();
        assert_eq!(compose_keys, k8s_keys, "{name}: the same variables");
        for (key, value) in &service.env {
            let Some(k8s) = config.get(key) else {
                continue;
            };
            if key.ends_with("_ENDPOINT") && !key.starts_with("OTEL_") {
                // The same service and port; Kubernetes prefixes its names.
                let (host, port) = host_and_port(value);
                assert_eq!(
                    (format!("switchyard-{host}"), port),
                    host_and_port(k8s),
                    "{name}: {key}"
                );
            } else if key != "SWITCHYARD_REDIS_URL" {
                assert_eq!(value, k8s, "{name}: {key}");
            }
        }
        let deployment = named(&documents, "Deployment", &format!("switchyard-{name}"));
        let termination = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
            .as_u64()
            .map(Duration::from_secs);
        assert_eq!(service.stop_grace, termination, "{name}: stop period");
        if let Some(port) = service.health_port {
            let probe = &container(deployment)["readinessProbe"]["grpc"];
            assert_eq!(
                probe["port"].as_u64(),
                Some(port.into()),
                "{name}: health port"
            );
            assert!(
                probe["service"].is_null(),
                "{name}: the same health question"
            );
        } else {
            assert_eq!(name, "console", "every gRPC service has a health check");
        }
    }
}
