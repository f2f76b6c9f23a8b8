//! The rule cache: compiled rules per (workspace, event type), shared by the
//! router's handlers, so routing an event costs no rule query and no
//! compilation once its type is warm.
//!
//! Freshness across replicas: every rule change notifies the
//! `switchyard_rules` channel in its transaction; [`listen`] keeps one
//! dedicated Postgres connection LISTENing and drops the changed workspace's
//! entries as each notification arrives (within milliseconds of the commit).
//! While that connection is down the cache is bypassed (every lookup reads
//! Postgres) and it is emptied when the connection comes back, since
//! notifications sent meanwhile are lost. A lookup that raced with an
//! invalidation does not store its (possibly stale) result: a generation
//! counter, bumped by every invalidation, tells.

pub mod listen;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use deadpool_postgres::Pool;
use switchyard_core::error::ApiResult;
use switchyard_core::ids::WorkspaceId;

use crate::api::rules::{RuleRecord, store};
use crate::expr::{self, RuleProgram};

/// Entries kept at most; past it the cache starts over (types are few per
/// workspace, so this only bounds a pathological spread).
const MAX_ENTRIES: usize = 10_000;

/// A rule with its expressions compiled.
#[derive(Debug)]
pub struct CompiledRule {
    pub record: RuleRecord,
    /// `Err` when a stored expression no longer compiles (limits tightened
    /// by an upgrade): the rule then fails every event visibly.
    pub program: Result<RuleProgram, String>,
}

impl CompiledRule {
    pub fn compile(record: RuleRecord) -> Self {
        let program =
            expr::compile_keyed_rule(&record.condition, &record.mapping, &record.ordering_key)
                .map_err(|error| format!("the rule no longer compiles: {error}"));
        Self { record, program }
    }
}

pub type RuleSet = Arc<[Arc<CompiledRule>]>;

#[derive(Default)]
pub struct RuleCache {
    entries: Mutex<HashMap<(WorkspaceId, String), RuleSet>>,
    generation: AtomicU64,
    listening: AtomicBool,
}

impl RuleCache {
    fn entries(&self) -> MutexGuard<'_, HashMap<(WorkspaceId, String), RuleSet>> {
        // The map holds no invariant a panicking holder could break.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The enabled rules with a live connection that match `event_type`.
    pub async fn rules_for(
        &self,
        pool: &Pool,
        workspace: WorkspaceId,
        event_type: &str,
    ) -> ApiResult<RuleSet> {
        let key = (workspace, event_type.to_string());
        let listening = self.listening.load(Ordering::Acquire);
        if listening && let Some(hit) = self.entries().get(&key) {
            return Ok(Arc::clone(hit));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let records = store::active_for_type(pool, workspace, event_type).await?;
        let rules: RuleSet = records
            .into_iter()
            .map(|record| Arc::new(CompiledRule::compile(record)))
            .collect();
        if listening {
            let mut entries = self.entries();
            if self.generation.load(Ordering::Acquire) == generation {
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
                entries.insert(key, Arc::clone(&rules));
            }
        }
        Ok(rules)
    }

    pub fn invalidate_workspace(&self, workspace: WorkspaceId) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.retain(|(owner, _), _| *owner != workspace);
    }

    pub fn invalidate_all(&self) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    /// Whether notifications are being received, so entries may be served.
    pub fn set_listening(&self, listening: bool) {
        self.listening.store(listening, Ordering::Release);
    }

    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    pub fn len(&self) -> usize {
        self.entries().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
