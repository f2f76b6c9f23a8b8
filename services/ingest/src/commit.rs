//! Group commit: every emit, single or batch, hands its checked events to
//! one [`Batcher`]; each flush takes whatever gathered meanwhile and
//!
//! 1. validates every event, one registry call per caller credential (a
//!    batch mixes workspaces; each is checked with its own caller's key),
//! 2. answers a refused event whose idempotency key is already stored with
//!    the first event (a repeat is answered whatever its payload, as a
//!    lookup before validation would; the query runs only when such
//!    events exist),
//! 3. keeps, of several valid events with the same key, the first, and
//!    answers the others as its duplicates,
//! 4. inserts every remaining event in one statement — one durable commit
//!    for the batch — and answers each caller with its own ids; an event
//!    whose key is already stored (an earlier or concurrent batch) is
//!    answered as that event's duplicate, found in one more query.
//!
//! The common case — new events, keyed or not — costs one statement.
//!
//! Keys live in `idempotency_keys` (the events table is partitioned by
//! time and cannot hold a unique key across partitions): the statement
//! claims each key there and stores the events whose key it claimed.
//! Retention removes a key only after its event (`crate::retention`); an
//! emit that meets a key whose event is already gone releases the key and
//! is answered `Unavailable`, so its retry stores the event afresh.
//!
//! A failed insert fails every event of the batch and stores none (one
//! statement, which also puts each new event in the outbox,
//! `events_unrouted`). Answers go out only after the commit, so an answered event
//! is durable. Callers' events are then handed to the router (see
//! [`crate::forward`]).

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::join_all;
use switchyard_core::batch::Batcher;
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{EventId, WorkspaceId};
use switchyard_proto::v1 as pb;
use tonic::metadata::{Ascii, MetadataValue};
use tracing::Instrument;
use uuid::Uuid;

use crate::api::candidate::Candidate;
use crate::validation::{self, Caller, PayloadCheck, PayloadValidator};

/// Submissions per flush at most (a submission is one call's events).
const MAX_BATCH: usize = 512;

/// One call's events, with the credentials to validate them with.
pub struct Submission {
    pub authorization: Option<MetadataValue<Ascii>>,
    pub candidates: Vec<Candidate>,
    /// The call's span: the flush's registry call joins the first
    /// submission's trace, and every span records its batch's size.
    pub span: tracing::Span,
}

/// One answer per candidate, in order.
pub type Answers = Vec<ApiResult<pb::EmitEventResponse>>;

/// What a committed event needs to be routed.
#[derive(Clone, Copy, Debug)]
pub struct Committed {
    pub workspace: WorkspaceId,
    pub event: EventId,
}

#[derive(Clone)]
pub struct Committer {
    batcher: Batcher<Submission, Answers>,
}

/// Counters of the flushes so far, shared with whoever wants them (the
/// tests assert on them; the same figures go to metrics).
#[derive(Debug, Default)]
pub struct CommitStats {
    pub commits: std::sync::atomic::AtomicU64,
    pub events: std::sync::atomic::AtomicU64,
}

/// The settings a flush needs.
struct Flusher {
    pool: deadpool_postgres::Pool,
    validator: Arc<dyn PayloadValidator>,
    /// Seconds the outbox leaves a new event to its live forward.
    outbox_grace_seconds: f64,
    stats: Arc<CommitStats>,
}

impl Committer {
    pub fn spawn(
        pool: deadpool_postgres::Pool,
        validator: Arc<dyn PayloadValidator>,
        outbox_grace: std::time::Duration,
        parallel: usize,
        stats: Arc<CommitStats>,
    ) -> Self {
        let flusher = Arc::new(Flusher {
            pool,
            validator,
            outbox_grace_seconds: outbox_grace.as_secs_f64(),
            stats,
        });
        let batcher = Batcher::spawn("emit", MAX_BATCH, parallel, move |submissions| {
            let flusher = Arc::clone(&flusher);
            async move { Ok(flusher.flush(submissions).await) }
        });
        Self { batcher }
    }

    /// Submissions handed in and not answered yet.
    pub fn backlog(&self) -> usize {
        self.batcher.backlog()
    }

    /// Validates and commits one call's events; one answer per candidate.
    pub async fn submit(&self, submission: Submission) -> ApiResult<Answers> {
        self.batcher
            .call(submission)
            .await
            .map_err(|error| ApiError::Internal(error.context("emit batch")))
    }
}

/// Where a candidate sits: (submission, index within it).
type Slot = (usize, usize);

impl Flusher {
    #[tracing::instrument(name = "ingest.commit", skip_all, fields(switchyard.submissions = submissions.len(), switchyard.events = tracing::field::Empty))]
    async fn flush(&self, submissions: Vec<Submission>) -> Vec<Answers> {
        let flush_started = std::time::Instant::now();
        let total: usize = submissions.iter().map(|s| s.candidates.len()).sum();
        tracing::Span::current().record("switchyard.events", total);
        for submission in &submissions {
            submission.span.record("switchyard.commit_batch", total);
        }
        let mut answers: Vec<Vec<Option<ApiResult<pb::EmitEventResponse>>>> = submissions
            .iter()
            .map(|s| s.candidates.iter().map(|_| None).collect())
            .collect();
        let slots: Vec<Slot> = submissions
            .iter()
            .enumerate()
            .flat_map(|(i, s)| (0..s.candidates.len()).map(move |j| (i, j)))
            .collect();
        let candidate = |(i, j): Slot| &submissions[i].candidates[j];

        // 1. Validation, one call per caller credential.
        let mut by_credential: HashMap<(WorkspaceId, Option<&[u8]>), Vec<Slot>> = HashMap::new();
        for slot in slots.iter().copied() {
            if answers[slot.0][slot.1].is_none() {
                let credential = submissions[slot.0]
                    .authorization
                    .as_ref()
                    .map(|v| v.as_bytes());
                by_credential
                    .entry((candidate(slot).workspace, credential))
                    .or_default()
                    .push(slot);
            }
        }
        let groups: Vec<Vec<Slot>> = by_credential.into_values().collect();
        let validations = join_all(groups.iter().map(|group| {
            let first = &submissions[group[0].0];
            let checks: Vec<PayloadCheck<'_>> = group
                .iter()
                .map(|slot| {
                    let c = candidate(*slot);
                    PayloadCheck {
                        event_type: &c.event_type,
                        schema_version: c.schema_version,
                        payload_json: &c.payload_json,
                    }
                })
                .collect();
            let caller = Caller {
                workspace: candidate(group[0]).workspace,
                authorization: first.authorization.as_ref(),
            };
            async move { validation::validate(self.validator.as_ref(), caller, &checks).await }
                .instrument(first.span.clone())
        }))
        .await;
        let mut valid: Vec<(Slot, u32, bool)> = Vec::new();
        for (group, validation) in groups.iter().zip(validations) {
            match validation {
                Ok(results) => {
                    for (slot, result) in group.iter().zip(results) {
                        match result {
                            Ok(validated) => {
                                valid.push((*slot, validated.schema_version, validated.deprecated));
                            }
                            Err(error) => answers[slot.0][slot.1] = Some(Err(error)),
                        }
                    }
                }
                Err(error) => {
                    for slot in group {
                        answers[slot.0][slot.1] = Some(Err(replicate(&error)));
                    }
                }
            }
        }
        valid.sort_by_key(|(slot, _, _)| *slot);

        // 2. A refused event whose key is already stored is a repeat: it is
        // answered with the first event, as if it had not been validated.
        let refused_keyed: Vec<Slot> = slots
            .iter()
            .copied()
            .filter(|slot| {
                candidate(*slot).idempotency_key.is_some()
                    && matches!(answers[slot.0][slot.1], Some(Err(_)))
            })
            .collect();
        if let Ok(found) = self.stored_keys(&refused_keyed, &candidate).await {
            for (slot, response) in found {
                if response.is_ok() {
                    answers[slot.0][slot.1] = Some(response);
                }
            }
        }

        // 3. The first valid event of each key wins.
        let mut winners: Vec<(Slot, u32, bool, EventId)> = Vec::new();
        let mut first_of_key: HashMap<(WorkspaceId, &str), usize> = HashMap::new();
        let mut followers: Vec<(Slot, usize, bool)> = Vec::new();
        for (slot, version, deprecated) in valid {
            let c = candidate(slot);
            if let Some(key) = c.idempotency_key.as_deref() {
                if let Some(winner) = first_of_key.get(&(c.workspace, key)) {
                    followers.push((slot, *winner, deprecated));
                    continue;
                }
                first_of_key.insert((c.workspace, key), winners.len());
            }
            winners.push((slot, version, deprecated, EventId::generate()));
        }

        // 4. One statement, one commit.
        let validated_at = std::time::Instant::now();
        let inserted = match self.insert(&winners, &candidate).await {
            Ok(inserted) => inserted,
            Err(error) => {
                for (slot, ..) in &winners {
                    answers[slot.0][slot.1] = Some(Err(replicate(&error)));
                }
                for (slot, ..) in &followers {
                    answers[slot.0][slot.1] = Some(Err(replicate(&error)));
                }
                return finish(answers);
            }
        };
        self.count(inserted.len());
        tracing::debug!(
            events = total,
            validate_us = u64::try_from((validated_at - flush_started).as_micros()).unwrap_or(0),
            insert_us = u64::try_from(validated_at.elapsed().as_micros()).unwrap_or(0),
            "events committed"
        );
        let mut lost_races: Vec<Slot> = Vec::new();
        for (slot, version, deprecated, id) in &winners {
            if inserted.contains(&id.as_uuid()) {
                answers[slot.0][slot.1] = Some(Ok(pb::EmitEventResponse {
                    event_id: id.to_string(),
                    duplicate: false,
                    schema_version: *version,
                    deprecated: *deprecated,
                }));
            } else {
                lost_races.push(*slot);
            }
        }
        if !lost_races.is_empty() {
            match self.stored_keys(&lost_races, &candidate).await {
                Ok(found) => {
                    for (slot, response) in found {
                        answers[slot.0][slot.1] = Some(response);
                    }
                }
                Err(error) => {
                    for slot in &lost_races {
                        answers[slot.0][slot.1] = Some(Err(replicate(&error)));
                    }
                }
            }
        }
        for (slot, winner, deprecated) in followers {
            let winner_slot = winners[winner].0;
            let answer = match &answers[winner_slot.0][winner_slot.1] {
                Some(Ok(first)) => Ok(pb::EmitEventResponse {
                    duplicate: true,
                    deprecated,
                    ..first.clone()
                }),
                Some(Err(error)) => Err(replicate(error)),
                None => Err(ApiError::Internal(anyhow::anyhow!(
                    "the first event of an idempotency key went unanswered"
                ))),
            };
            answers[slot.0][slot.1] = Some(answer);
        }
        finish(answers)
    }

    fn count(&self, events: usize) {
        use std::sync::atomic::Ordering;
        self.stats.commits.fetch_add(1, Ordering::Relaxed);
        self.stats
            .events
            .fetch_add(events as u64, Ordering::Relaxed);
        metrics::counter!(switchyard_core::telemetry::metrics::names::INGEST_COMMITS).increment(1);
        metrics::histogram!(switchyard_core::telemetry::metrics::names::INGEST_COMMIT_EVENTS)
            .record(events as f64);
    }

    /// The stored events of the candidates' keys, as duplicate answers. A
    /// key whose event retention removed (and has not pruned yet) is
    /// released here, and its candidate answered `Unavailable` to retry.
    async fn stored_keys<'a>(
        &self,
        slots: &[Slot],
        candidate: &impl Fn(Slot) -> &'a Candidate,
    ) -> ApiResult<Vec<(Slot, ApiResult<pb::EmitEventResponse>)>> {
        if slots.is_empty() {
            return Ok(Vec::new());
        }
        let workspaces: Vec<Uuid> = slots
            .iter()
            .map(|slot| candidate(*slot).workspace.as_uuid())
            .collect();
        let keys: Vec<&str> = slots
            .iter()
            .map(|slot| {
                candidate(*slot)
                    .idempotency_key
                    .as_deref()
                    .unwrap_or_default()
            })
            .collect();
        let positions: Vec<i32> = (0..slots.len())
            .map(|i| i32::try_from(i).unwrap_or(i32::MAX))
            .collect();
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT k.position, e.id, e.schema_version, i.workspace_id, i.key, i.event_id \
                 FROM unnest($1::uuid[], $2::text[], $3::int4[]) AS k (workspace_id, key, position) \
                 JOIN idempotency_keys i ON i.workspace_id = k.workspace_id AND i.key = k.key \
                 LEFT JOIN events e ON e.id = i.event_id",
                &[&workspaces, &keys, &positions],
            )
            .await?;
        let mut answers = Vec::with_capacity(rows.len());
        for row in &rows {
            let Some(slot) = usize::try_from(row.get::<_, i32>(0))
                .ok()
                .and_then(|position| slots.get(position))
            else {
                continue;
            };
            let Some(event) = row.get::<_, Option<Uuid>>(1) else {
                // Only this key row, and only while its event is still gone.
                client
                    .execute(
                        "DELETE FROM idempotency_keys i \
                         WHERE i.workspace_id = $1 AND i.key = $2 AND i.event_id = $3 \
                           AND NOT EXISTS (SELECT 1 FROM events e WHERE e.id = i.event_id)",
                        &[
                            &row.get::<_, Uuid>(3),
                            &row.get::<_, String>(4),
                            &row.get::<_, Uuid>(5),
                        ],
                    )
                    .await?;
                answers.push((
                    *slot,
                    Err(ApiError::Unavailable(
                        "the idempotency key belonged to an event removed by retention and was \
                         released; retry to store this event"
                            .to_string(),
                    )),
                ));
                continue;
            };
            answers.push((
                *slot,
                Ok(pb::EmitEventResponse {
                    event_id: EventId(event).to_string(),
                    duplicate: true,
                    schema_version: u32::try_from(row.get::<_, i32>(2)).unwrap_or(0),
                    deprecated: false,
                }),
            ));
        }
        Ok(answers)
    }

    /// Inserts the winners in one statement; returns the ids stored (a key
    /// stored meanwhile by another batch leaves its event out).
    async fn insert<'a>(
        &self,
        winners: &[(Slot, u32, bool, EventId)],
        candidate: &impl Fn(Slot) -> &'a Candidate,
    ) -> ApiResult<std::collections::HashSet<Uuid>> {
        if winners.is_empty() {
            return Ok(Default::default());
        }
        let mut ids = Vec::with_capacity(winners.len());
        let mut workspaces = Vec::with_capacity(winners.len());
        let mut types = Vec::with_capacity(winners.len());
        let mut versions = Vec::with_capacity(winners.len());
        let mut payloads = Vec::with_capacity(winners.len());
        let mut keys = Vec::with_capacity(winners.len());
        let mut traceparents = Vec::with_capacity(winners.len());
        for (slot, version, _, id) in winners {
            let c = candidate(*slot);
            ids.push(id.as_uuid());
            workspaces.push(c.workspace.as_uuid());
            types.push(c.event_type.as_str());
            versions.push(
                i32::try_from(*version)
                    .map_err(|_| anyhow::anyhow!("schema version out of range"))?,
            );
            payloads.push(c.payload_json.as_str());
            keys.push(c.idempotency_key.as_deref());
            traceparents.push(c.traceparent.as_deref());
        }
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "WITH input AS ( \
                     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int4[], \
                                          $5::text[], $6::text[], $7::text[]) \
                          AS e (id, workspace_id, event_type, schema_version, payload, \
                                idempotency_key, traceparent) \
                 ), claimed AS ( \
                     INSERT INTO idempotency_keys (workspace_id, key, event_id) \
                     SELECT workspace_id, idempotency_key, id FROM input \
                     WHERE idempotency_key IS NOT NULL \
                     ON CONFLICT (workspace_id, key) DO NOTHING \
                     RETURNING event_id \
                 ), stored AS ( \
                     INSERT INTO events (id, workspace_id, event_type, schema_version, payload, \
                                         idempotency_key, traceparent) \
                     SELECT e.id, e.workspace_id, e.event_type, e.schema_version, e.payload::jsonb, \
                            e.idempotency_key, e.traceparent \
                     FROM input e \
                     WHERE e.idempotency_key IS NULL OR e.id IN (SELECT event_id FROM claimed) \
                     RETURNING id, workspace_id \
                 ), outbox AS ( \
                     INSERT INTO events_unrouted (event_id, workspace_id, next_route_at) \
                     SELECT id, workspace_id, now() + $8 * interval '1 second' FROM stored \
                 ) \
                 SELECT id FROM stored",
                &[
                    &ids,
                    &workspaces,
                    &types,
                    &versions,
                    &payloads,
                    &keys,
                    &traceparents,
                    &self.outbox_grace_seconds,
                ],
            )
            .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }
}

/// Every answer filled in (a gap is our bug, answered as such).
fn finish(answers: Vec<Vec<Option<ApiResult<pb::EmitEventResponse>>>>) -> Vec<Answers> {
    answers
        .into_iter()
        .map(|answers| {
            answers
                .into_iter()
                .map(|answer| {
                    answer.unwrap_or_else(|| {
                        Err(ApiError::Internal(anyhow::anyhow!(
                            "an event of the batch went unanswered"
                        )))
                    })
                })
                .collect()
        })
        .collect()
}

/// The same error for another event of the batch. An outage stays an
/// outage (`Unavailable`, which callers retry); our own failures are logged
/// once here and answered opaquely to each caller.
pub fn replicate(error: &ApiError) -> ApiError {
    match error {
        ApiError::Unavailable(message) => ApiError::Unavailable(message.clone()),
        _ if error.code() == tonic::Code::Unavailable => ApiError::Unavailable(
            "a dependency of ingest is unreachable; nothing was stored, retry later".to_string(),
        ),
        ApiError::Internal(inner) => ApiError::Internal(anyhow::anyhow!("{inner:#}")),
        other => ApiError::Upstream(tonic::Status::new(other.code(), other.to_string())),
    }
}
