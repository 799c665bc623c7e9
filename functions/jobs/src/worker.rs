//! The job worker: one chunk of a job per queue message.
//!
//! For each item: one conditional write claims it (a chunk delivered again finds its
//! finished items and skips them); a new cardholder is created once (its create is
//! marked sent first, and never sent twice: after a fault its outcome is unknown and the
//! item fails saying so); the card is enrolled as the synchronous route enrolls it (a
//! 409 for the same cardholder reconciled as enrolled); the outcome is written together
//! with the job's counters. A fault (a 5xx, a timeout, a 429) gives the item back and
//! the chunk comes again after a backoff; after [`MAX_ITEM_ATTEMPTS`] the item fails.
//! A chunk that cannot be handled at all goes to the dead-letter queue, whose consumer
//! fails its unfinished items. The pace is the card-issuance client's rate limit: this
//! instance's share of the upstream's, × the event source's `MaximumConcurrency`.

use std::time::{Duration, Instant};

use enroll::{CardLink, Enroller};
use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use gateway::clock::SharedClock;
use gateway::domain::{BudgetId, CardholderId, TenantId};
use gateway::error::ApiError;
use gateway::http::IssuerCaller;
use gateway::jobs::repo::{ItemClaim, ItemNote, ItemOutcome, MAX_ITEM_ATTEMPTS};
use gateway::jobs::source::{self, Cardholder, Checks, ItemSpec};
use gateway::jobs::{ChunkMessage, Job, JobId, JobItem, JobState, Jobs};
use gateway::objects::{ObjectError, SharedObjects};
use gateway::platform::Platform;
use gateway::secrets::{Cached, SecretError};
use gateway::telemetry::metrics;
use gateway::tenants::Registry;
use serde_json::Value;

use crate::{ChunkQueue, WORKER_REGISTRY_PARTS, WorkerConfig};

/// How long one item's calls may take (within its lease).
const ITEM_DEADLINE: Duration = Duration::from_secs(60);
/// Items between two reads of the job (a cancel is seen within this many).
const CANCEL_CHECK_EVERY: usize = 20;

/// How a chunk's handling ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkDone {
    /// Nothing left to do for it (its items finished, or its job did): delete it.
    Finished,
    /// Some items hit a fault: deliver it again after this.
    RetryAfter(Duration),
}

/// How one item's turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    Finished,
    /// Finished before, or another worker has it.
    Skipped,
    /// A fault: its chunk comes again.
    Released,
}

pub struct JobWorker {
    jobs: Jobs,
    enroller: Enroller,
    objects: SharedObjects,
    queue: ChunkQueue,
    tenants: Cached<Registry>,
    clock: SharedClock,
    dead_letter_arn: String,
    item_concurrency: usize,
}

impl JobWorker {
    pub(crate) fn new(
        config: &WorkerConfig,
        platform: &Platform,
        objects: SharedObjects,
        queue: ChunkQueue,
    ) -> Self {
        Self {
            jobs: Jobs::new(platform.store.clone(), platform.clock.clone()),
            enroller: Enroller::new(
                &config.http,
                &config.card_issuance,
                &config.card_issuance_secret,
                &config.secrets,
                platform,
            ),
            objects,
            queue,
            tenants: platform.tenant_registry(&config.secrets, WORKER_REGISTRY_PARTS),
            clock: platform.clock.clone(),
            dead_letter_arn: config.dead_letter_arn.clone(),
            item_concurrency: config.item_concurrency,
        }
    }

    pub(crate) async fn load_secrets(&self) -> Result<(), SecretError> {
        gateway::secrets::load_all(&[&self.tenants, self.enroller.credentials()]).await
    }

    /// The dead-letter queue's ARN: its records are chunks to abandon.
    pub fn dead_letter_arn(&self) -> &str {
        &self.dead_letter_arn
    }

    /// The queue the chunks come from (a retried one is made visible again there).
    pub fn queue(&self) -> &ChunkQueue {
        &self.queue
    }

    /// The backoff after the `receive_count`-th delivery of a chunk hit faults: 10 s,
    /// doubling, at most 15 minutes.
    pub fn backoff(receive_count: u32) -> Duration {
        let exponent = receive_count.saturating_sub(1).min(7);
        Duration::from_secs((10u64 << exponent).min(900))
    }

    /// The card program whose job it is, acting through it; `None` if it is no longer
    /// a registered card program.
    async fn program(&self, tenant: &TenantId) -> Result<Option<IssuerCaller>, SecretError> {
        let registry = self.tenants.get().await?;
        Ok(registry.tenant(tenant).and_then(IssuerCaller::acting_for))
    }

    /// The chunk's items, read back from the job's file.
    async fn chunk_items(
        &self,
        job: &Job,
        message: &ChunkMessage,
        caller: &IssuerCaller,
    ) -> Result<Vec<Result<ItemSpec, (u32, gateway::domain::FieldError)>>, ObjectError> {
        let range = &message.range;
        let bytes = self
            .objects
            .get_range(&job.object_key, range.start, Some(range.end))
            .await?;
        let owns = |budget: &str| caller.issuer().owns_budget(budget);
        let checks = Checks {
            owns_budget: &owns,
            today: gateway::clock::utc_date(self.clock.now_ms()),
        };
        Ok(source::read_chunk(
            job.format,
            job.columns.as_deref(),
            range,
            &bytes,
            &checks,
        ))
    }

    /// Handles one delivery of a chunk.
    pub async fn run_chunk(&self, message: &ChunkMessage, receive_count: u32) -> ChunkDone {
        match self.try_chunk(message).await {
            Ok(0) => ChunkDone::Finished,
            Ok(released) => {
                tracing::warn!(job_id = %message.job_id, released, "items hit faults: their chunk comes again");
                ChunkDone::RetryAfter(Self::backoff(receive_count))
            }
            Err(error) => {
                tracing::error!(job_id = %message.job_id, %error, "a chunk could not be handled: it comes again");
                ChunkDone::RetryAfter(Self::backoff(receive_count))
            }
        }
    }

    /// The chunk's items, worked on: how many were given back after a fault.
    async fn try_chunk(&self, message: &ChunkMessage) -> Result<usize, ApiError> {
        let (tenant, job_id) = (&message.tenant, &message.job_id);
        let Some(job) = self.jobs.get(tenant, job_id).await? else {
            tracing::warn!(%job_id, "a chunk of a job that no longer exists");
            return Ok(0);
        };
        if job.state.is_terminal() {
            return Ok(0);
        }
        let Some(caller) = self.program(tenant).await? else {
            self.jobs
                .fail(tenant, job_id, "the card program is no longer registered")
                .await?;
            return Ok(0);
        };
        if job.state == JobState::Queued {
            self.jobs.mark_running(tenant, job_id).await?;
        }
        let items = match self.chunk_items(&job, message, &caller).await {
            Ok(items) => items,
            Err(ObjectError::Missing) => {
                self.jobs
                    .fail(tenant, job_id, "the job's file is gone")
                    .await?;
                return Ok(0);
            }
            Err(ObjectError::Unavailable(e)) => {
                return Err(ApiError::Internal(format!("the jobs' object store: {e}")));
            }
        };
        let mut released = 0;
        for group in items.chunks(CANCEL_CHECK_EVERY) {
            // A cancel (or a failure) stops what has not started.
            let current = self.jobs.get(tenant, job_id).await?;
            if current.is_none_or(|job| job.state.is_terminal()) {
                tracing::info!(%job_id, "the job finished: the rest of its chunk is not run");
                return Ok(0);
            }
            let caller = &caller;
            // Owned items: a stream of borrowed ones trips the compiler's higher-ranked
            // lifetime check when the worker's future is spawned.
            let turns: Vec<Turn> = futures_util::stream::iter(group.to_vec())
                .map(move |item| -> BoxFuture<'_, Turn> {
                    Box::pin(async move { self.item_turn(tenant, job_id, caller, &item).await })
                })
                .buffer_unordered(self.item_concurrency)
                .collect()
                .await;
            released += turns.iter().filter(|t| **t == Turn::Released).count();
        }
        if let Some(done) = self.jobs.complete_if_done(tenant, job_id).await? {
            tracing::info!(%job_id, state = done.state.as_str(), enrolled = done.enrolled, failed = done.failed, "bulk enrollment job finished");
        }
        Ok(released)
    }

    async fn item_turn(
        &self,
        tenant: &TenantId,
        job: &JobId,
        caller: &IssuerCaller,
        item: &Result<ItemSpec, (u32, gateway::domain::FieldError)>,
    ) -> Turn {
        let outcome = match item {
            Ok(spec) => self.enroll_item(tenant, job, caller, spec).await,
            // The file changed under its key since it was checked: the line is failed.
            Err((line, error)) => self.fail_unreadable(tenant, job, *line, error).await,
        };
        outcome.unwrap_or_else(|error| {
            tracing::error!(%job, %error, "a job item's records could not be written: its chunk comes again");
            Turn::Released
        })
    }

    async fn fail_unreadable(
        &self,
        tenant: &TenantId,
        job: &JobId,
        line: u32,
        error: &gateway::domain::FieldError,
    ) -> Result<Turn, gateway::store::StoreError> {
        let claim_id = uuid::Uuid::new_v4().to_string();
        match self
            .jobs
            .claim_item(tenant, job, line, "", &claim_id)
            .await?
        {
            ItemClaim::Held(_) => {}
            ItemClaim::Finished(_) | ItemClaim::Busy => return Ok(Turn::Skipped),
        }
        let outcome = ItemOutcome::Failed {
            code: "INVALID_PARAMETER".into(),
            message: format!("lines[{line}].{}: {}", error.field, error.message),
        };
        self.jobs
            .finish_item(tenant, job, line, &claim_id, &outcome)
            .await?;
        metrics::job_item("failed");
        Ok(Turn::Finished)
    }

    /// One item's turn: claimed, its cardholder made if new, its card enrolled.
    async fn enroll_item(
        &self,
        tenant: &TenantId,
        job: &JobId,
        caller: &IssuerCaller,
        spec: &ItemSpec,
    ) -> Result<Turn, gateway::store::StoreError> {
        let claim_id = uuid::Uuid::new_v4().to_string();
        let line = spec.line;
        let held = match self
            .jobs
            .claim_item(tenant, job, line, spec.card_id.as_str(), &claim_id)
            .await?
        {
            ItemClaim::Held(item) => item,
            ItemClaim::Finished(_) | ItemClaim::Busy => return Ok(Turn::Skipped),
        };
        if held.attempts > MAX_ITEM_ATTEMPTS {
            let outcome = ItemOutcome::Failed {
                code: held
                    .code
                    .clone()
                    .unwrap_or_else(|| "UPSTREAM_UNAVAILABLE".into()),
                message: format!(
                    "the card-issuance API failed on each of {MAX_ITEM_ATTEMPTS} attempts"
                ),
            };
            return self.finish(tenant, job, line, &claim_id, outcome).await;
        }
        let deadline = Instant::now() + ITEM_DEADLINE;
        let cardholder_id = match self
            .cardholder_of(tenant, job, caller, spec, &held, &claim_id, deadline)
            .await?
        {
            Ok(id) => id,
            Err(Settled::Failed(outcome)) => {
                return self.finish(tenant, job, line, &claim_id, outcome).await;
            }
            Err(Settled::Fault(code)) => {
                return self.release(tenant, job, line, &claim_id, &code).await;
            }
        };
        let link = CardLink {
            card_id: spec.card_id.clone(),
            cardholder_id,
        };
        match self
            .enroller
            .enroll_card(&link, caller, Some(deadline))
            .await
        {
            Ok(enrolled) => {
                let outcome = ItemOutcome::Enrolled {
                    reconciled: enrolled.reconciled,
                };
                self.finish(tenant, job, line, &claim_id, outcome).await
            }
            Err(error) if is_permanent(&error) => {
                self.finish(tenant, job, line, &claim_id, failed(&error))
                    .await
            }
            Err(error) => {
                self.release(tenant, job, line, &claim_id, error.code())
                    .await
            }
        }
    }

    /// Records a held item's outcome (counted in its job).
    async fn finish(
        &self,
        tenant: &TenantId,
        job: &JobId,
        line: u32,
        claim_id: &str,
        outcome: ItemOutcome,
    ) -> Result<Turn, gateway::store::StoreError> {
        let label = match &outcome {
            ItemOutcome::Enrolled { reconciled: true } => "reconciled",
            ItemOutcome::Enrolled { reconciled: false } => "enrolled",
            ItemOutcome::Failed { .. } => "failed",
        };
        if self
            .jobs
            .finish_item(tenant, job, line, claim_id, &outcome)
            .await?
        {
            metrics::job_item(label);
        }
        Ok(Turn::Finished)
    }

    async fn release(
        &self,
        tenant: &TenantId,
        job: &JobId,
        line: u32,
        claim_id: &str,
        code: &str,
    ) -> Result<Turn, gateway::store::StoreError> {
        self.jobs
            .release_item(tenant, job, line, claim_id, code)
            .await?;
        metrics::job_item("retried");
        Ok(Turn::Released)
    }

    /// The item's cardholder: the one it names, or the one created for it — once.
    #[allow(clippy::too_many_arguments)]
    async fn cardholder_of(
        &self,
        tenant: &TenantId,
        job: &JobId,
        caller: &IssuerCaller,
        spec: &ItemSpec,
        held: &JobItem,
        claim_id: &str,
        deadline: Instant,
    ) -> Result<Result<CardholderId, Settled>, gateway::store::StoreError> {
        let request = match &spec.cardholder {
            Cardholder::Existing(id) => return Ok(Ok(id.clone())),
            Cardholder::New(request) => request,
        };
        if let Some(id) = held
            .cardholder_id
            .as_deref()
            .and_then(|id| CardholderId::parse("cardholder_id", id).ok())
        {
            return Ok(Ok(id));
        }
        if held.contact_requested {
            return Ok(Err(contact_outcome_unknown(
                "the cardholder's create may have taken effect upstream",
                &request.budget_id,
            )));
        }
        let line = spec.line;
        if !self
            .jobs
            .note_item(tenant, job, line, claim_id, ItemNote::ContactRequested)
            .await?
        {
            return Ok(Err(Settled::Fault("REQUEST_IN_PROGRESS".into())));
        }
        let budget = BudgetId::parse("budget_id", &request.budget_id)
            .expect("a job item's budget was checked when its file was");
        let created = self
            .enroller
            .create_cardholder(caller, request, &budget, Some(deadline))
            .await;
        let envelope: Value = match created {
            Ok(envelope) => envelope,
            Err(error) if error.proves_nothing_happened() => {
                // Never reached the upstream, or refused: not sent, as far as it knows.
                self.jobs
                    .note_item(tenant, job, line, claim_id, ItemNote::ContactNotSent)
                    .await?;
                return Ok(Err(if is_permanent(&error) {
                    Settled::Failed(failed(&error))
                } else {
                    Settled::Fault(error.code().to_owned())
                }));
            }
            Err(error) => {
                return Ok(Err(contact_outcome_unknown(
                    &error.public_message(),
                    &request.budget_id,
                )));
            }
        };
        let id = match created_cardholder(&envelope) {
            Ok(id) => id,
            Err(settled) => return Ok(Err(settled)),
        };
        self.jobs
            .note_item(
                tenant,
                job,
                line,
                claim_id,
                ItemNote::Cardholder(id.as_str()),
            )
            .await?;
        Ok(Ok(id))
    }

    /// A dead-lettered chunk: every item not finished is failed (none is run), and the
    /// job completes if that was the last.
    pub async fn abandon_chunk(&self, message: &ChunkMessage) -> Result<(), ApiError> {
        let (tenant, job_id) = (&message.tenant, &message.job_id);
        let Some(job) = self.jobs.get(tenant, job_id).await? else {
            return Ok(());
        };
        if job.state.is_terminal() {
            return Ok(());
        }
        let Some(caller) = self.program(tenant).await? else {
            self.jobs
                .fail(tenant, job_id, "the card program is no longer registered")
                .await?;
            return Ok(());
        };
        let items = match self.chunk_items(&job, message, &caller).await {
            Ok(items) => items,
            Err(ObjectError::Missing) => {
                self.jobs
                    .fail(tenant, job_id, "the job's file is gone")
                    .await?;
                return Ok(());
            }
            Err(ObjectError::Unavailable(e)) => {
                return Err(ApiError::Internal(format!("the jobs' object store: {e}")));
            }
        };
        let outcome = ItemOutcome::Failed {
            code: "NOT_PROCESSED".into(),
            message: "its chunk could not be handled after repeated deliveries".into(),
        };
        let mut abandoned = 0;
        for item in &items {
            let (line, card_id) = match item {
                Ok(spec) => (spec.line, spec.card_id.as_str().to_owned()),
                Err((line, _)) => (*line, String::new()),
            };
            if self
                .jobs
                .fail_abandoned(tenant, job_id, line, &card_id, &outcome)
                .await?
            {
                abandoned += 1;
                metrics::job_item("failed");
            }
        }
        tracing::error!(%job_id, abandoned, "a dead-lettered chunk's unfinished items were failed");
        self.jobs.complete_if_done(tenant, job_id).await?;
        Ok(())
    }
}

/// How a new cardholder's step settled when it gave no id.
enum Settled {
    Failed(ItemOutcome),
    /// A fault: the item is given back.
    Fault(String),
}

/// A failure no retry changes: our own refusal (not the program's card, a bad field), or
/// the upstream's 4xx other than 429.
fn is_permanent(error: &ApiError) -> bool {
    match error {
        ApiError::Refused { .. } | ApiError::Internal(_) => true,
        ApiError::UpstreamRefused { status, .. } => {
            (400..500).contains(status) && !matches!(status, 408 | 429)
        }
        _ => false,
    }
}

fn failed(error: &ApiError) -> ItemOutcome {
    ItemOutcome::Failed {
        code: error.code().to_owned(),
        message: error.public_message(),
    }
}

/// A new cardholder's create whose outcome is unknown: never sent twice, the item is
/// failed with what to do.
fn contact_outcome_unknown(why: &str, budget_id: &str) -> Settled {
    Settled::Failed(ItemOutcome::Failed {
        code: "IDEMPOTENCY_OUTCOME_UNKNOWN".into(),
        message: format!(
            "{why}; the cardholder's create is not sent twice: look the contact up in budget {budget_id}, then enroll this card with its cardholder_id"
        ),
    })
}

/// The id of the contact the upstream created, from its answer.
fn created_cardholder(envelope: &Value) -> Result<CardholderId, Settled> {
    envelope
        .pointer("/data/cardholder_id")
        .and_then(Value::as_str)
        .and_then(|id| CardholderId::parse("cardholder_id", id).ok())
        .ok_or_else(|| {
            Settled::Failed(ItemOutcome::Failed {
                code: "UPSTREAM_REJECTED".into(),
                message: "the created contact came back without its cardholder_id".into(),
            })
        })
}
