//! The backfill worker every router runs.
//!
//! 1. Every `poll`, while it runs fewer than `max_running` backfills, it
//!    claims a running backfill whose lease is free or expired
//!    ([`store::claim`]) and routes it in a task of its own.
//! 2. A task waits for its [`Pacer`], reads the rule as it is now (a
//!    deleted or disabled rule, or a deleted connection, fails the
//!    backfill), reads the next page after the cursor and hands it to
//!    `routing::deliver::create_deliveries` — the code live routing uses —
//!    with an [`Advance`] that moves the cursor and counters and extends
//!    the lease in the same transaction. If the backfill was cancelled or
//!    its lease taken over meanwhile, that transaction rolls back and the
//!    task stops.
//! 3. An empty page completes the backfill. At shutdown a task stops
//!    between pages and releases its lease so another router resumes at
//!    once; a crashed router's backfills resume, from their cursor, when
//!    their lease expires. An error (an outage) releases the lease too:
//!    the next poll, here or elsewhere, takes it up again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard_core::error::ApiResult;
use switchyard_core::ids::EventId;
use switchyard_core::shutdown::{self, Signal};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

use super::model::{BackfillRecord, BackfillState};
use super::pace::Pacer;
use super::scan::{self, Advance};
use super::store;
use crate::RouterState;
use crate::cache::{CompiledRule, RuleSet};
use crate::routing::deliver;

/// How the worker runs backfills.
#[derive(Clone, Copy, Debug)]
pub struct BackfillSettings {
    /// How long a claimed backfill stays this process's without progress;
    /// every page extends it. A crashed owner's backfill resumes elsewhere
    /// after it.
    pub lease: Duration,
    /// Pause between two looks for backfills to take.
    pub poll: Duration,
    /// Backfills this process routes at once; 0 runs no worker.
    pub max_running: usize,
    /// Events per page at most (a page is also at most a fifth of a
    /// second's worth of the backfill's rate, so pacing stays smooth).
    pub max_page: u32,
}

impl Default for BackfillSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(1),
            max_running: 4,
            max_page: 500,
        }
    }
}

/// Events per page for a rate: a fifth of a second's worth.
pub fn page_size(rate_per_second: u32, max_page: u32) -> u32 {
    rate_per_second.div_ceil(5).clamp(1, max_page.max(1))
}

/// How a backfill's task ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    Completed,
    Failed(String),
    /// Shutdown: the lease is given back.
    Stopped,
    /// Cancelled, or taken over by another router: nothing more to write.
    NotOurs,
}

/// Claims and routes backfills until `shutdown`; then waits for its tasks
/// to stop between pages.
pub async fn run(state: RouterState, settings: BackfillSettings, shutdown: Signal) {
    if settings.max_running == 0 {
        return;
    }
    let owner: Arc<str> = format!(
        "router-{}-{}",
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    )
    .into();
    // Dropping the set (the worker aborted) aborts its tasks with it.
    let tasks = Arc::new(Mutex::new(JoinSet::new()));
    shutdown::every(settings.poll, shutdown.clone(), || {
        let (tasks, state, owner, shutdown) =
            (Arc::clone(&tasks), state.clone(), Arc::clone(&owner), shutdown.clone());
        async move {
            let mut tasks = tasks.lock().await;
            while tasks.try_join_next().is_some() {}
            while tasks.len() < settings.max_running {
                match store::claim(&state.pool, &owner, settings.lease).await {
                    Ok(Some(backfill)) => {
                        tasks.spawn(run_one(
                            state.clone(),
                            backfill,
                            Arc::clone(&owner),
                            settings,
                            shutdown.clone(),
                        ));
                    }
                    Ok(None) => break,
                    Err(error) => {
                        tracing::warn!(error = %error, "claiming a backfill failed; retrying next poll");
                        break;
                    }
                }
            }
        }
    })
    .await;
    let mut tasks = tasks.lock().await;
    while tasks.join_next().await.is_some() {}
}

#[tracing::instrument(skip_all, fields(switchyard.backfill_id = %backfill.id, switchyard.rule_id = %backfill.rule_id))]
async fn run_one(
    state: RouterState,
    backfill: BackfillRecord,
    owner: Arc<str>,
    settings: BackfillSettings,
    shutdown: Signal,
) {
    let id = backfill.id;
    tracing::info!(cursor = ?backfill.cursor, "backfill taken");
    let ended = route_range(&state, backfill, &owner, &settings, &shutdown).await;
    let outcome = match ended {
        Ok(Ended::Completed) => {
            store::finish(&state.pool, id, &owner, BackfillState::Completed, "")
                .await
                .map(|_| tracing::info!("backfill completed"))
        }
        Ok(Ended::Failed(reason)) => {
            tracing::warn!(%reason, "backfill failed");
            store::finish(&state.pool, id, &owner, BackfillState::Failed, &reason)
                .await
                .map(drop)
        }
        Ok(Ended::Stopped) => store::release(&state.pool, id, &owner).await,
        Ok(Ended::NotOurs) => {
            tracing::info!("backfill cancelled or taken over; stopping");
            Ok(())
        }
        Err(error) => {
            tracing::warn!(error = %error, "backfill page failed; giving the lease back to retry");
            store::release(&state.pool, id, &owner).await
        }
    };
    if let Err(error) = outcome {
        // The lease expires on its own: another poll resumes it then.
        tracing::warn!(error = %error, "recording the end of a backfill run failed");
    }
}

/// Routes the backfill page by page from its cursor.
async fn route_range(
    state: &RouterState,
    mut backfill: BackfillRecord,
    owner: &str,
    settings: &BackfillSettings,
    shutdown: &Signal,
) -> ApiResult<Ended> {
    let page = page_size(backfill.rate_per_second, settings.max_page);
    let mut pacer = Pacer::new(backfill.rate_per_second, page);
    loop {
        let wait = pacer.delay(page, Instant::now());
        tokio::select! {
            biased;
            () = shutdown.clone().wait() => return Ok(Ended::Stopped),
            () = tokio::time::sleep(wait) => {}
        }
        let Some(rule) = store::rule_now(&state.pool, backfill.workspace, backfill.rule_id).await?
        else {
            return Ok(Ended::Failed(format!(
                "rule {} was deleted",
                backfill.rule_id
            )));
        };
        if !rule.enabled {
            return Ok(Ended::Failed(format!("rule {} was disabled", rule.id)));
        }
        if !store::connection_live(&state.pool, backfill.workspace, rule.connection_id).await? {
            return Ok(Ended::Failed(format!(
                "connection {} of rule {} was deleted",
                rule.connection_id, rule.id
            )));
        }
        let pattern = store::pattern_of(&rule.event_type)?;
        let events = {
            let client = state.pool.get().await?;
            scan::page(&client, &backfill, &pattern, i64::from(page)).await?
        };
        let Some(last) = events.last().map(|event| event.reference.event) else {
            return Ok(Ended::Completed);
        };
        let rules: RuleSet = Arc::from(vec![Arc::new(CompiledRule::compile(rule))]);
        let advance = Advance {
            backfill: backfill.id,
            owner,
            lease: settings.lease,
            cursor: last.as_uuid(),
            scanned: events.len(),
        };
        let batch = events
            .into_iter()
            .map(|event| (event, Arc::clone(&rules)))
            .collect();
        // No outbox rows are touched: the events' other rules are live
        // routing's business.
        if deliver::create_deliveries(state, batch, &[], &advance)
            .await?
            .is_none()
        {
            return Ok(Ended::NotOurs);
        }
        backfill.cursor = Some(EventId(last.as_uuid()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_a_fifth_of_a_second_within_bounds() {
        assert_eq!(page_size(1, 500), 1);
        assert_eq!(page_size(50, 500), 10);
        assert_eq!(page_size(10_000, 500), 500);
    }
}
