//! The engine's statements, each taking a batch (the engine's batchers
//! gather concurrent attempts into one round trip). A delivery moves
//! `pending → delivering → succeeded | retrying → delivering → … | dead`;
//! `attempt_count` counts claims, and the attempt number of a claim guards
//! its record, so a consumer whose lease was taken over cannot overwrite the
//! newer attempt's outcome. A claim held back by a limit is released: the
//! count goes back down, so no attempt is spent.

use std::collections::HashSet;
use std::sync::LazyLock;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use secrecy::SecretString;
use switchyard_core::db::{self, DEADLOCK_TRIES};
use switchyard_core::ids::{ConnectionId, DeliveryId, WorkspaceId};
use switchyard_core::states::{self, AttemptTrigger, ConnectionState, DeliveryStatus};
use switchyard_tenancy::secrets::Sealed;
use uuid::Uuid;

use super::ordering;

/// A delivery claimed for one attempt, with what the attempt needs.
#[derive(Debug)]
pub struct Claimed {
    /// 1 for the first attempt.
    pub attempt: u32,
    pub connection: ConnectionId,
    /// What is sent: the rule's mapped body, else the event's payload.
    pub payload: serde_json::Value,
    /// The connection's `kind` and `config`, read together as a
    /// `switchyard_delivery_model::connection::ConnectionConfig`.
    pub kind: String,
    pub connection_config: serde_json::Value,
    /// The connection's sealed secrets not expired, by
    /// `connection_secrets.field` (see `switchyard_tenancy::secrets`).
    pub sealed_secrets: Vec<(String, Sealed)>,
    /// The key a rule gave the delivery; it orders the delivery only when
    /// the connection's policy turns ordering on ([`super::ordering`]).
    pub ordering_key: Option<String>,
    /// The plain-text signing secret of a connection written before
    /// encryption at rest and not yet sealed (the router seals them at
    /// start).
    pub legacy_signing_secret: Option<SecretString>,
    pub connection_deleted: bool,
    /// Active or disabled (a paused connection's deliveries are not
    /// claimed).
    pub connection_state: ConnectionState,
    /// The connection's stored delivery policy (JSON).
    pub policy: serde_json::Value,
    pub trigger: AttemptTrigger,
    /// The `traceparent` the router stored with the delivery (its `Route`
    /// span): the parent of attempts whose job carries none (replays,
    /// repaired jobs).
    pub traceparent: Option<String>,
}

#[derive(Debug)]
pub enum ClaimOutcome {
    Claimed(Box<Claimed>),
    /// Another attempt holds the delivery until then (its consumer may have
    /// died; the job should come back after the lease).
    Leased {
        until: DateTime<Utc>,
    },
    /// Not due, already done, its connection is paused, or an earlier
    /// delivery of its ordering key is unfinished (which hands it over when
    /// done): the job that led here is not needed.
    Skipped,
    /// An ordered delivery the claim passed over (an earlier event not
    /// routed yet, or a head that finished meanwhile) and that no hand-over
    /// will bring: try again then.
    Blocked {
        until: DateTime<Utc>,
    },
}

/// How long such a delivery waits.
const RETRY_SOON_MS: i64 = 200;

/// The claim (see [`claim`]), built once: its ordering test comes from
/// [`ordering`].
static CLAIM_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH claimed AS ( \
                UPDATE deliveries d \
                SET status = 'delivering', attempt_count = d.attempt_count + 1, \
                    lease_expires_at = now() + make_interval(secs => $3), updated_at = now() \
                WHERE d.id = ANY($1::uuid[]) \
                  AND d.workspace_id = ($2::uuid[])[array_position($1::uuid[], d.id)] \
                  AND CASE d.status \
                        WHEN 'pending' THEN d.next_attempt_at <= now() + interval '1 second' \
                        WHEN 'retrying' THEN d.next_attempt_at <= now() + interval '1 second' \
                        WHEN 'delivering' THEN d.lease_expires_at < now() \
                        ELSE false END \
                  AND NOT EXISTS (SELECT 1 FROM connections p WHERE p.id = d.connection_id \
                                  AND p.state IN ({holding}) AND p.deleted_at IS NULL) \
                  AND NOT {blocked} \
                RETURNING d.id, d.event_id, d.connection_id, d.attempt_count, d.next_trigger, \
                          d.body, d.traceparent, d.ordering_key \
             ) \
             SELECT c.id, c.attempt_count, COALESCE(c.body, e.payload), n.config, \
                    n.signing_secret, n.deleted_at IS NOT NULL, n.state, n.policy, \
                    c.next_trigger, c.connection_id, s.fields, s.key_ids, s.ciphertexts, \
                    c.traceparent, n.kind, c.ordering_key \
             FROM claimed c \
             JOIN events e ON e.id = c.event_id \
             JOIN connections n ON n.id = c.connection_id \
             LEFT JOIN LATERAL ( \
                SELECT array_agg(cs.field ORDER BY cs.field) AS fields, \
                       array_agg(cs.key_id ORDER BY cs.field) AS key_ids, \
                       array_agg(cs.ciphertext ORDER BY cs.field) AS ciphertexts \
                FROM connection_secrets cs \
                WHERE cs.connection_id = n.id \
                  AND (cs.expires_at IS NULL OR cs.expires_at > now()) \
             ) s ON true",
        blocked = ordering::blocked(),
        holding = states::sql_literals(ConnectionState::HOLDING),
    )
});

/// What a claimed-over delivery is waiting for: another attempt's lease, or
/// nothing anymore ([`ordering::retry_soon`]).
static SECOND_LOOK_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT d.id, \
                            CASE WHEN d.status = 'delivering' THEN d.lease_expires_at END, \
                            {retry_soon} \
                     FROM deliveries d \
                     WHERE d.id = ANY($1::uuid[]) \
                       AND ((d.status = 'delivering' AND d.lease_expires_at > now()) \
                            OR (d.status IN ('pending', 'retrying') AND d.ordering_key IS NOT NULL))",
        retry_soon = ordering::retry_soon()
    )
});

/// Claims every delivery of `requests` that is due (or whose lease
/// expired) and whose connection is not paused, leasing each for `lease`.
///
/// The claim must stay a synchronous commit: it is the point after which a
/// request can go out, and the router writes deliveries without waiting for
/// their WAL flush (`switchyard_router::routing::route`). Flushing the claim
/// makes the delivery durable before anything is sent, so a Postgres crash
/// can never leave a sent webhook whose delivery is re-created under another
/// `webhook-id`.
/// Outcomes come back in request order; a delivery asked twice is claimed
/// at most once.
///
/// The statement is driven by `id = ANY($1)` alone, and the due/lease test
/// is a `CASE` so that no partial index (`deliveries_due`, …) can serve it:
/// whatever the statistics say — a plan cached while the table was small,
/// before a burst — the only plan is one primary-key probe per delivery,
/// never a walk over every due row. Rows are probed in id order, so
/// concurrent claims never deadlock; a row locked by another writer (the
/// router stamps `enqueued_at` right after enqueueing) is waited for, not
/// skipped, which would drop the job. The second of tolerance lets a retry
/// parked in Redis with a due time a little ahead of the database clock be
/// taken.
pub async fn claim(
    pool: &Pool,
    requests: &[(WorkspaceId, DeliveryId)],
    lease: Duration,
) -> anyhow::Result<Vec<ClaimOutcome>> {
    let ids: Vec<Uuid> = requests.iter().map(|(_, d)| d.as_uuid()).collect();
    let workspaces: Vec<Uuid> = requests.iter().map(|(w, _)| w.as_uuid()).collect();
    let client = pool.get().await.context("connecting to Postgres")?;
    let statement = client
        .prepare_cached(&CLAIM_SQL)
        .await
        .context("preparing the claim")?;
    let rows = client
        .query(&statement, &[&ids, &workspaces, &lease.as_secs_f64()])
        .await
        .context("claiming deliveries")?;

    let mut by_id = std::collections::HashMap::with_capacity(ids.len());
    for row in &rows {
        let attempt: i32 = row.get(1);
        let claimed = Claimed {
            attempt: u32::try_from(attempt).context("attempt_count is negative")?,
            payload: row.get(2),
            connection_config: row.get(3),
            sealed_secrets: sealed_secrets(row)?,
            legacy_signing_secret: row.get::<_, Option<String>>(4).map(SecretString::from),
            connection_deleted: row.get(5),
            connection_state: row.get(6),
            policy: row.get(7),
            trigger: row.get(8),
            connection: ConnectionId(row.get(9)),
            traceparent: row.get(13),
            kind: row.get(14),
            ordering_key: row.get(15),
        };
        by_id.insert(
            row.get::<_, Uuid>(0),
            ClaimOutcome::Claimed(Box::new(claimed)),
        );
    }
    // Only deliveries not claimed need a second look: one leased by an
    // attempt in flight (maybe of a dead consumer) comes back later.
    let missing: Vec<Uuid> = ids
        .iter()
        .filter(|id| !by_id.contains_key(*id))
        .copied()
        .collect();
    if !missing.is_empty() {
        let held = client
            .query(SECOND_LOOK_SQL.as_str(), &[&missing])
            .await
            .context("reading leases")?;
        for row in &held {
            let lease: Option<DateTime<Utc>> = row.get(1);
            let retry_soon: bool = row.get(2);
            if let Some(until) = lease.filter(|until| *until > Utc::now()) {
                by_id.insert(row.get(0), ClaimOutcome::Leased { until });
            } else if retry_soon {
                let until = Utc::now() + chrono::TimeDelta::milliseconds(RETRY_SOON_MS);
                by_id.insert(row.get(0), ClaimOutcome::Blocked { until });
            }
        }
    }
    // The first request for a delivery gets its outcome, repeats skip.
    Ok(ids
        .iter()
        .map(|id| by_id.remove(id).unwrap_or(ClaimOutcome::Skipped))
        .collect())
}

/// The claim row's secrets (three parallel arrays, NULL when none).
fn sealed_secrets(row: &tokio_postgres::Row) -> anyhow::Result<Vec<(String, Sealed)>> {
    let fields: Option<Vec<String>> = row.get(10);
    let key_ids: Option<Vec<String>> = row.get(11);
    let ciphertexts: Option<Vec<Vec<u8>>> = row.get(12);
    let (fields, key_ids, ciphertexts) = (
        fields.unwrap_or_default(),
        key_ids.unwrap_or_default(),
        ciphertexts.unwrap_or_default(),
    );
    anyhow::ensure!(
        fields.len() == key_ids.len() && fields.len() == ciphertexts.len(),
        "connection secrets arrays differ in length"
    );
    Ok(fields
        .into_iter()
        .zip(key_ids.into_iter().zip(ciphertexts))
        .map(|(field, (key_id, ciphertext))| (field, Sealed { key_id, ciphertext }))
        .collect())
}

/// One finished attempt, as `delivery_attempts` stores it, and the
/// delivery's new state.
#[derive(Debug)]
pub struct AttemptRecord {
    pub workspace: WorkspaceId,
    pub delivery: DeliveryId,
    pub attempt: u32,
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    /// Where the request went (a webhook's URL, an API's endpoint).
    pub target: String,
    /// What is particular to the kind (`{"kind": …, "method": …, …}`).
    pub detail: serde_json::Value,
    /// `None` when no response arrived.
    pub status_code: Option<u16>,
    /// Empty on success.
    pub error: String,
    pub response_snippet: String,
    pub trigger: AttemptTrigger,
    pub outcome: NewStatus,
}

/// Where the delivery goes after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewStatus {
    Succeeded,
    Retrying { next_attempt_at: DateTime<Utc> },
    Dead,
}

impl NewStatus {
    /// The stored status.
    pub fn status(&self) -> DeliveryStatus {
        match self {
            Self::Succeeded => DeliveryStatus::Succeeded,
            Self::Retrying { .. } => DeliveryStatus::Retrying,
            Self::Dead => DeliveryStatus::Dead,
        }
    }

    pub fn as_str(&self) -> &'static str {
        self.status().as_str()
    }
}

/// Stores the attempts and their deliveries' new states in one statement.
/// Returns the deliveries this batch still owned: one that had meanwhile
/// been claimed again (its lease expired) keeps the attempt as history,
/// but the newer claim owns its state. As in [`claim`], the primary key is
/// the only index the planner can use, whatever its statistics: the
/// workspace is compared as text, or a plan cached while the table was
/// small could walk a workspace-prefixed index — every delivery of the
/// workspace — for each row.
pub async fn record(pool: &Pool, records: &[AttemptRecord]) -> anyhow::Result<HashSet<Uuid>> {
    let mut ordered: Vec<&AttemptRecord> = records.iter().collect();
    // One lock order for every batch.
    ordered.sort_by_key(|record| record.delivery.as_uuid());
    let column = |f: fn(&AttemptRecord) -> Uuid| ordered.iter().map(|r| f(r)).collect::<Vec<_>>();
    let deliveries = column(|r| r.delivery.as_uuid());
    let workspaces = column(|r| r.workspace.as_uuid());
    let mut attempts = Vec::with_capacity(ordered.len());
    let mut started = Vec::with_capacity(ordered.len());
    let mut durations = Vec::with_capacity(ordered.len());
    let mut targets = Vec::with_capacity(ordered.len());
    let mut details = Vec::with_capacity(ordered.len());
    let mut codes = Vec::with_capacity(ordered.len());
    let mut errors = Vec::with_capacity(ordered.len());
    let mut snippets = Vec::with_capacity(ordered.len());
    let mut triggers = Vec::with_capacity(ordered.len());
    let mut statuses = Vec::with_capacity(ordered.len());
    let mut next_attempts = Vec::with_capacity(ordered.len());
    for record in &ordered {
        attempts.push(i32::try_from(record.attempt).context("attempt number overflows")?);
        started.push(record.started_at);
        durations.push(i32::try_from(record.duration.as_millis()).unwrap_or(i32::MAX));
        targets.push(record.target.as_str());
        details.push(&record.detail);
        codes.push(record.status_code.map(i32::from));
        errors.push(record.error.as_str());
        snippets.push(record.response_snippet.as_str());
        triggers.push(record.trigger);
        statuses.push(record.outcome.status());
        next_attempts.push(match record.outcome {
            NewStatus::Retrying { next_attempt_at } => Some(next_attempt_at),
            NewStatus::Succeeded | NewStatus::Dead => None,
        });
    }
    let client = pool.get().await.context("connecting to Postgres")?;
    let statement = client
        .prepare_cached(
            "WITH input AS ( \
                SELECT * FROM unnest($1::uuid[], $2::int4[], $3::uuid[], $4::timestamptz[], \
                                     $5::int4[], $6::text[], $7::int4[], $8::text[], $9::text[], \
                                     $10::text[], $11::text[], $12::timestamptz[], $13::jsonb[]) \
                  AS i (delivery_id, attempt, workspace_id, started_at, duration_ms, target, \
                        status_code, error, response_snippet, trigger, status, next_attempt_at, \
                        detail) \
             ), inserted AS ( \
                INSERT INTO delivery_attempts (delivery_id, attempt, workspace_id, started_at, \
                    duration_ms, target, status_code, error, response_snippet, trigger, detail) \
                SELECT delivery_id, attempt, workspace_id, started_at, duration_ms, target, \
                       status_code, error, response_snippet, trigger, detail \
                FROM input \
                ON CONFLICT (delivery_id, attempt) DO NOTHING \
             ), updated AS ( \
                UPDATE deliveries d \
                SET status = i.status, next_attempt_at = COALESCE(i.next_attempt_at, d.next_attempt_at), \
                    last_error = i.error, lease_expires_at = NULL, next_trigger = $14, \
                    updated_at = now() \
                FROM input i \
                WHERE d.id = ANY($1::uuid[]) AND d.id = i.delivery_id \
                  AND d.workspace_id::text = i.workspace_id::text \
                  AND d.attempt_count = i.attempt \
                RETURNING d.id \
             ) \
             SELECT id FROM updated",
        )
        .await
        .context("preparing the record")?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 14] = [
        &deliveries,
        &attempts,
        &workspaces,
        &started,
        &durations,
        &targets,
        &codes,
        &errors,
        &snippets,
        &triggers,
        &statuses,
        &next_attempts,
        &details,
        &AttemptTrigger::Scheduled,
    ];
    // A batch chosen as a deadlock victim was rolled back whole: run it
    // again rather than leave its requests, already sent, unrecorded (their
    // jobs would come back and send them twice).
    let mut tries = 0;
    let rows = loop {
        tries += 1;
        match client.query(&statement, &params).await {
            Ok(rows) => break rows,
            Err(error) if tries < DEADLOCK_TRIES && db::is_deadlock(&error) => {
                tracing::debug!("attempt records chosen as deadlock victim; trying again");
            }
            Err(error) => return Err(error).context("recording attempts"),
        }
    };
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// A claim given back: the attempt did not happen.
#[derive(Clone, Copy, Debug)]
pub struct Release {
    pub delivery: DeliveryId,
    pub attempt: u32,
    /// When the delivery is due again.
    pub due: DateTime<Utc>,
}

/// Undoes claims held back before their request: the attempt count goes
/// back down and the delivery is due again at `due`. (`IS TRUE` keeps the
/// status test from matching a partial index: primary-key probes only.)
pub async fn release(pool: &Pool, releases: &[Release]) -> anyhow::Result<()> {
    let mut ordered = releases.to_vec();
    ordered.sort_by_key(|release| release.delivery.as_uuid());
    let ids: Vec<Uuid> = ordered.iter().map(|r| r.delivery.as_uuid()).collect();
    let attempts = ordered
        .iter()
        .map(|r| i32::try_from(r.attempt))
        .collect::<Result<Vec<i32>, _>>()
        .context("attempt number overflows")?;
    let dues: Vec<DateTime<Utc>> = ordered.iter().map(|r| r.due).collect();
    let client = pool.get().await.context("connecting to Postgres")?;
    let statement = client
        .prepare_cached(
            "UPDATE deliveries d \
             SET status = CASE WHEN d.attempt_count > 1 THEN 'retrying' ELSE 'pending' END, \
                 attempt_count = d.attempt_count - 1, lease_expires_at = NULL, \
                 next_attempt_at = r.due, updated_at = now() \
             FROM unnest($1::uuid[], $2::int4[], $3::timestamptz[]) AS r (id, attempt, due) \
             WHERE d.id = ANY($1::uuid[]) AND d.id = r.id AND d.attempt_count = r.attempt \
               AND (d.status = 'delivering') IS TRUE",
        )
        .await
        .context("preparing the release")?;
    client
        .execute(&statement, &[&ids, &attempts, &dues])
        .await
        .context("releasing held-back claims")?;
    Ok(())
}

/// Disables a connection the receiver told to go away (410 Gone).
pub async fn disable_connection(
    pool: &Pool,
    workspace: WorkspaceId,
    connection: ConnectionId,
    reason: &str,
) -> anyhow::Result<bool> {
    change_state(
        pool,
        (workspace, connection),
        ConnectionState::Disabled,
        &[
            ConnectionState::Active,
            ConnectionState::Paused,
            ConnectionState::NeedsCredentials,
        ],
        reason,
    )
    .await
    .context("disabling the connection")
}

/// Marks the connection as needing new credentials (the destination
/// rejected them): its deliveries are not claimed until an update of its
/// credentials makes it active again. True when this call changed it.
pub async fn mark_needs_credentials(
    pool: &Pool,
    workspace: WorkspaceId,
    connection: ConnectionId,
    reason: &str,
) -> anyhow::Result<bool> {
    change_state(
        pool,
        (workspace, connection),
        ConnectionState::NeedsCredentials,
        &[ConnectionState::Active],
        reason,
    )
    .await
    .context("marking the connection as needing credentials")
}

/// Moves a live connection to state `to` when it is in one of `from`;
/// true when this call changed it.
async fn change_state(
    pool: &Pool,
    (workspace, connection): (WorkspaceId, ConnectionId),
    to: ConnectionState,
    from: &[ConnectionState],
    reason: &str,
) -> anyhow::Result<bool> {
    let client = pool.get().await.context("connecting to Postgres")?;
    let changed = client
        .execute(
            "UPDATE connections \
             SET state = $3, state_reason = $4, state_changed_at = now(), updated_at = now() \
             WHERE id = $1 AND workspace_id = $2 AND state = ANY($5) AND deleted_at IS NULL",
            &[
                &connection.as_uuid(),
                &workspace.as_uuid(),
                &to,
                &reason,
                &from,
            ],
        )
        .await?;
    Ok(changed == 1)
}

/// Stamps up to `limit` overdue deliveries as re-queued and returns them:
/// due (or leased) for longer than `grace` without progress, and not
/// re-queued within `grace` either, so each is re-queued at most once per
/// grace period however many replicas sweep. Paused connections' deliveries
/// wait for their resume. Due and leased deliveries are two statements,
/// each walking its own partial index.
pub async fn sweep(
    pool: &Pool,
    grace: Duration,
    limit: i64,
) -> anyhow::Result<Vec<(WorkspaceId, DeliveryId, ConnectionId)>> {
    let client = pool.get().await.context("connecting to Postgres")?;
    let mut swept = Vec::new();
    for (condition, order) in [
        (
            &format!(
                "d.status IN ('pending', 'retrying') \
                 AND d.next_attempt_at < now() - make_interval(secs => $1) \
                 AND NOT {}",
                ordering::BLOCKED_BY_EARLIER
            ),
            "d.next_attempt_at",
        ),
        (
            &"d.status = 'delivering' \
             AND d.lease_expires_at < now() - make_interval(secs => $1)"
                .to_string(),
            "d.lease_expires_at",
        ),
    ] {
        let rows = client
            .query(
                &format!(
                    "UPDATE deliveries SET requeued_at = now() \
                     WHERE id IN ( \
                        SELECT d.id FROM deliveries d \
                        WHERE {condition} \
                          AND (d.requeued_at IS NULL \
                               OR d.requeued_at < now() - make_interval(secs => $1)) \
                          AND NOT EXISTS (SELECT 1 FROM connections p \
                                          WHERE p.id = d.connection_id \
                                            AND p.state = ANY($3) AND p.deleted_at IS NULL) \
                        ORDER BY {order} \
                        LIMIT $2 \
                        FOR UPDATE OF d SKIP LOCKED \
                     ) \
                     RETURNING id, workspace_id, connection_id"
                ),
                &[&grace.as_secs_f64(), &limit, &ConnectionState::HOLDING],
            )
            .await
            .context("sweeping overdue deliveries")?;
        swept.extend(rows.iter().map(|row| {
            (
                WorkspaceId(row.get(1)),
                DeliveryId(row.get(0)),
                ConnectionId(row.get(2)),
            )
        }));
    }
    Ok(swept)
}
