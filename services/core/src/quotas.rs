//! The `[quotas]` section and the limits of one workspace.
//!
//! ```toml
//! [quotas.default]            # every workspace without an override
//! ingest_rate = 100.0         # events per second; 0: unlimited (the default)
//! ingest_burst = 200          # events accepted at once; unset: one second's worth
//! max_connections = 1000
//! max_rules = 10000
//! max_event_types = 1000
//!
//! [quotas.workspaces.ws_0190c3…]   # keyed by workspace id; fields left out keep the default
//! ingest_rate = 1000.0
//! max_payload_bytes = 1048576       # default: ingest.max_payload_bytes
//! ```
//!
//! Overrides are keyed by workspace id rather than slug: the id is what
//! every request is authenticated to, so no lookup is needed, and it never
//! changes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::ids::WorkspaceId;

/// The largest `max_payload_bytes` allowed: ingest passes the payload on to
/// the registry and the router, whose servers decode messages of up to
/// 4 MiB, and the request's other fields need room too. (Ingest itself
/// decodes up to `grpc::MAX_REQUEST_BYTES`, so a payload over the limit is
/// read and refused with the limit named.)
pub const MAX_PAYLOAD_CEILING: usize = 4 * 1024 * 1024 - 64 * 1024;

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct QuotaConfig {
    /// The limits of every workspace without an override.
    pub default: WorkspaceQuota,
    /// Overrides keyed by workspace id (`ws_…`).
    pub workspaces: BTreeMap<String, QuotaOverride>,
}

/// Default limits. The payload size default is `ingest.max_payload_bytes`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct WorkspaceQuota {
    /// Events per second a workspace may emit, across every ingest
    /// replica; 0: unlimited.
    pub ingest_rate: f64,
    /// Events a workspace may emit at once before the rate applies; unset:
    /// one second's worth of `ingest_rate`.
    pub ingest_burst: Option<u32>,
    /// Live (not deleted) connections per workspace.
    pub max_connections: u32,
    /// Live (not deleted) rules per workspace.
    pub max_rules: u32,
    /// Event types per workspace.
    pub max_event_types: u32,
}

impl Default for WorkspaceQuota {
    fn default() -> Self {
        Self {
            ingest_rate: 0.0,
            ingest_burst: None,
            max_connections: 1000,
            max_rules: 10_000,
            max_event_types: 1000,
        }
    }
}

/// One workspace's overrides; unset fields keep the default.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct QuotaOverride {
    pub ingest_rate: Option<f64>,
    pub ingest_burst: Option<u32>,
    /// Largest accepted `payload_json`, in bytes.
    pub max_payload_bytes: Option<usize>,
    pub max_connections: Option<u32>,
    pub max_rules: Option<u32>,
    pub max_event_types: Option<u32>,
}

/// The limits that apply to one workspace.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WorkspaceLimits {
    /// Events per second; 0: unlimited.
    pub ingest_rate: f64,
    /// Events accepted at once (at least 1).
    pub ingest_burst: u32,
    pub max_payload_bytes: usize,
    pub max_connections: u32,
    pub max_rules: u32,
    pub max_event_types: u32,
}

/// Resolves each workspace's limits; built once per service from the
/// config. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Quotas {
    default: WorkspaceLimits,
    overrides: Arc<HashMap<WorkspaceId, QuotaOverride>>,
}

impl Quotas {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let quotas = &config.quotas;
        let base = &quotas.default;
        let default = WorkspaceLimits {
            ingest_rate: base.ingest_rate,
            ingest_burst: base
                .ingest_burst
                .unwrap_or_else(|| one_second_of(base.ingest_rate)),
            max_payload_bytes: config.ingest.max_payload_bytes,
            max_connections: base.max_connections,
            max_rules: base.max_rules,
            max_event_types: base.max_event_types,
        };
        check(&default).context("quotas.default (and ingest.max_payload_bytes)")?;
        let mut overrides = HashMap::new();
        for (key, quota) in &quotas.workspaces {
            let workspace = WorkspaceId::parse(key).map_err(|reason| {
                anyhow::anyhow!("quotas.workspaces.{key}: the key is a workspace id and {reason}")
            })?;
            let resolved = Self::merge(&default, quota);
            check(&resolved).with_context(|| format!("quotas.workspaces.{key}"))?;
            overrides.insert(workspace, quota.clone());
        }
        Ok(Self {
            default,
            overrides: Arc::new(overrides),
        })
    }

    /// The limits of `workspace`: its override over the defaults.
    pub fn limits(&self, workspace: WorkspaceId) -> WorkspaceLimits {
        match self.overrides.get(&workspace) {
            Some(quota) => Self::merge(&self.default, quota),
            None => self.default,
        }
    }

    /// Whether any workspace has an ingest rate (so ingest needs Redis).
    pub fn any_ingest_rate(&self) -> bool {
        self.default.ingest_rate > 0.0
            || self
                .overrides
                .values()
                .any(|quota| quota.ingest_rate.is_some_and(|rate| rate > 0.0))
    }

    fn merge(default: &WorkspaceLimits, quota: &QuotaOverride) -> WorkspaceLimits {
        let ingest_rate = quota.ingest_rate.unwrap_or(default.ingest_rate);
        // A new rate without a burst gets its own second's worth, not the
        // default rate's.
        let ingest_burst = match (quota.ingest_burst, quota.ingest_rate) {
            (Some(burst), _) => burst,
            (None, Some(rate)) => one_second_of(rate),
            (None, None) => default.ingest_burst,
        };
        WorkspaceLimits {
            ingest_rate,
            ingest_burst,
            max_payload_bytes: quota.max_payload_bytes.unwrap_or(default.max_payload_bytes),
            max_connections: quota.max_connections.unwrap_or(default.max_connections),
            max_rules: quota.max_rules.unwrap_or(default.max_rules),
            max_event_types: quota.max_event_types.unwrap_or(default.max_event_types),
        }
    }
}

fn one_second_of(rate: f64) -> u32 {
    // Saturating: `as` clamps, and rates are validated finite.
    (rate.ceil() as u32).max(1)
}

fn check(limits: &WorkspaceLimits) -> anyhow::Result<()> {
    if !limits.ingest_rate.is_finite() || limits.ingest_rate < 0.0 {
        bail!("ingest_rate must be a number of events per second, 0 or more");
    }
    if limits.ingest_burst == 0 {
        bail!("ingest_burst must be at least 1");
    }
    if limits.max_payload_bytes == 0 || limits.max_payload_bytes > MAX_PAYLOAD_CEILING {
        bail!("max_payload_bytes must be between 1 and {MAX_PAYLOAD_CEILING}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with(workspace: WorkspaceId, quota: QuotaOverride) -> Config {
        let mut config = Config::default();
        config.quotas.default.ingest_rate = 10.0;
        config.quotas.default.max_rules = 5;
        config
            .quotas
            .workspaces
            .insert(workspace.to_string(), quota);
        config
    }

    #[test]
    fn an_override_beats_the_default_field_by_field() {
        let special = WorkspaceId::generate();
        let config = config_with(
            special,
            QuotaOverride {
                max_rules: Some(50),
                ingest_rate: Some(2.5),
                max_payload_bytes: Some(1024),
                ..QuotaOverride::default()
            },
        );
        let quotas = Quotas::from_config(&config).expect("valid");
        let special_limits = quotas.limits(special);
        assert_eq!(special_limits.max_rules, 50);
        assert_eq!(special_limits.ingest_rate, 2.5);
        assert_eq!(special_limits.ingest_burst, 3);
        assert_eq!(special_limits.max_payload_bytes, 1024);
        assert_eq!(special_limits.max_connections, 1000);

        let other = quotas.limits(WorkspaceId::generate());
        assert_eq!(other.max_rules, 5);
        assert_eq!(other.ingest_rate, 10.0);
        assert_eq!(other.ingest_burst, 10);
        assert_eq!(other.max_payload_bytes, config.ingest.max_payload_bytes);
        assert!(quotas.any_ingest_rate());
    }

    #[test]
    fn keys_must_be_workspace_ids() {
        let mut config = Config::default();
        config
            .quotas
            .workspaces
            .insert("acme".to_string(), QuotaOverride::default());
        let error = Quotas::from_config(&config).expect_err("slug key");
        assert!(
            error.to_string().contains("quotas.workspaces.acme"),
            "{error}"
        );
    }

    #[test]
    fn refuses_impossible_limits() {
        let workspace = WorkspaceId::generate();
        for quota in [
            QuotaOverride {
                ingest_rate: Some(-1.0),
                ..QuotaOverride::default()
            },
            QuotaOverride {
                ingest_burst: Some(0),
                ..QuotaOverride::default()
            },
            QuotaOverride {
                max_payload_bytes: Some(MAX_PAYLOAD_CEILING + 1),
                ..QuotaOverride::default()
            },
        ] {
            assert!(Quotas::from_config(&config_with(workspace, quota)).is_err());
        }
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closures return figment::Error
    fn the_toml_sections_load_and_env_overrides_them() {
        let workspace = WorkspaceId::generate();
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "switchyard.toml",
                &format!(
                    "[quotas.default]\ningest_rate = 5.0\nmax_rules = 7\n\n\
                     [quotas.workspaces.{workspace}]\nmax_rules = 70\n\n\
                     [tls]\nca = \"/etc/switchyard/ca.pem\"\n"
                ),
            )?;
            jail.set_env("SWITCHYARD_QUOTAS__DEFAULT__MAX_CONNECTIONS", "9");
            let config =
                Config::load_from(Some(std::path::Path::new("switchyard.toml"))).expect("loads");
            let quotas = Quotas::from_config(&config).expect("valid");
            let limits = quotas.limits(workspace);
            assert_eq!(limits.max_rules, 70);
            assert_eq!(limits.max_connections, 9);
            assert_eq!(limits.ingest_rate, 5.0);
            assert_eq!(quotas.limits(WorkspaceId::generate()).max_rules, 7);
            assert_eq!(
                config.tls.ca.as_deref(),
                Some(std::path::Path::new("/etc/switchyard/ca.pem"))
            );
            Ok(())
        });
    }

    #[test]
    fn unlimited_by_default() {
        let quotas = Quotas::from_config(&Config::default()).expect("valid");
        assert!(!quotas.any_ingest_rate());
        assert_eq!(quotas.limits(WorkspaceId::generate()).ingest_rate, 0.0);
    }
}
