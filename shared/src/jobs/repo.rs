//! Reading and writing jobs and their items: every change of state one conditional write
//! (an item's outcome together with its job's counters, in one transaction).

use std::time::Duration;

use super::{ItemState, Job, JobId, JobItem, JobState, SourceFormat, attr, item_attr};
use crate::clock::SharedClock;
use crate::domain::TenantId;
use crate::lease;
use crate::store::index::{self, Index};
use crate::store::{
    AttributeValue, Guard, Item, Kind, Mutation, Patch, Query, SharedStore, StoreError, Written,
    number_value, string_value,
};

/// How long a job and its items are kept after they were created (then TTL removes them;
/// the job's file goes by the bucket's lifecycle rule at the same age).
pub const RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long a worker holds an item: longer than one item's calls (its deadline).
pub const ITEM_LEASE: Duration = Duration::from_secs(90);
/// Deliveries of an item's chunk that may end in a fault before the item is failed.
pub const MAX_ITEM_ATTEMPTS: i64 = 5;
/// The job queue's redrive policy (`maxReceiveCount`): the item attempts, and as many
/// receives again that make none (a throttled or crashed invocation) before a chunk is
/// dead-lettered.
pub const CHUNK_MAX_RECEIVES: u32 = 2 * MAX_ITEM_ATTEMPTS as u32 + 1;

/// A job to create.
pub struct NewJob {
    pub tenant: TenantId,
    pub job_id: JobId,
    pub format: SourceFormat,
    pub object_key: String,
    /// The keyed digest of its `Idempotency-Key` and request, if it came with one.
    pub request: Option<String>,
    /// `Some`: created from a file already checked (inline items): queued at once.
    pub checked: Option<Queued>,
    pub upload_expires_at: Option<i64>,
}

/// What a checked file makes of a job.
#[derive(Debug, Clone)]
pub struct Queued {
    pub total: usize,
    pub chunk_count: usize,
    pub columns: Option<Vec<String>>,
}

/// A create's outcome.
pub enum Created {
    New(Box<Job>),
    /// A job with this id exists (a retried create): as it is.
    Existing(Box<Job>),
}

/// A claim's outcome.
pub enum ItemClaim {
    /// Ours: work on it.
    Held(Box<JobItem>),
    /// Finished before (a chunk delivered again).
    Finished(Box<JobItem>),
    /// Another worker holds it now.
    Busy,
}

/// How an item ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemOutcome {
    Enrolled { reconciled: bool },
    Failed { code: String, message: String },
}

pub struct Jobs {
    store: SharedStore,
    clock: SharedClock,
}

fn state_guard(state: JobState) -> Guard {
    Guard::equals(attr::STATE, state.as_str())
}

fn any_state(states: &[JobState]) -> Guard {
    Guard::Or(states.iter().map(|s| state_guard(*s)).collect())
}

fn decode_job(item: Item) -> Result<Job, StoreError> {
    Job::from_item(item)
}

impl Jobs {
    pub fn new(store: SharedStore, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    fn expires_at(&self) -> i64 {
        (self.now_ms() + RETENTION.as_millis() as i64) / 1000
    }

    /// A job-state write: stamped with its time and a mutation id (its event's name).
    fn job_patch(&self, state: JobState) -> Patch {
        Patch::default()
            .set_s(attr::STATE, state.as_str())
            .set_n(attr::UPDATED_AT, self.now_ms())
            .set_s(attr::MUTATION_ID, uuid::Uuid::new_v4().to_string())
    }

    /// Creates the job, or finds the one its id already names.
    pub async fn create(&self, new: NewJob) -> Result<Created, StoreError> {
        let now = self.now_ms();
        let state = if new.checked.is_some() {
            JobState::Queued
        } else {
            JobState::AwaitingUpload
        };
        let mut patch = self
            .job_patch(state)
            .set_s(crate::store::attr::KIND, Kind::Job.as_str())
            .set_s(attr::JOB_ID, new.job_id.as_str())
            .set_s(attr::TENANT_ID, new.tenant.as_str())
            .set_s(attr::FORMAT, serde_plain(&new.format))
            .set_s(attr::OBJECT_KEY, &new.object_key)
            .set_n(attr::CREATED_AT, now)
            .set_n(attr::EXPIRES_AT, self.expires_at());
        if let Some(request) = &new.request {
            patch = patch.set_s(attr::REQUEST, request);
        }
        if let Some(at) = new.upload_expires_at {
            patch = patch.set_n(attr::UPLOAD_EXPIRES_AT, at);
        }
        if let Some(checked) = &new.checked {
            patch = queued(patch, checked);
        }
        let key = Job::key(&new.tenant, &new.job_id);
        let mutation = Mutation {
            guard: Guard::Absent,
            patch,
        };
        match self.store.write(&key, &mutation).await? {
            Written::Applied(item) => Ok(Created::New(Box::new(decode_job(item)?))),
            Written::Refused(Some(item)) => Ok(Created::Existing(Box::new(decode_job(item)?))),
            Written::Refused(None) => {
                Err(StoreError::Corrupt("a refused create found no job".into()))
            }
        }
    }

    /// The tenant's job, if it exists (another tenant's is not found: its key names the
    /// tenant).
    pub async fn get(&self, tenant: &TenantId, job: &JobId) -> Result<Option<Job>, StoreError> {
        self.store
            .read(&Job::key(tenant, job))
            .await?
            .map(decode_job)
            .transpose()
    }

    /// An uploaded file checked out: the job is queued with its counts. `None`: it was
    /// not awaiting its upload any more (started before, or canceled).
    pub async fn queue(
        &self,
        tenant: &TenantId,
        job: &JobId,
        checked: &Queued,
    ) -> Result<Result<Job, Option<Job>>, StoreError> {
        let mutation = Mutation {
            guard: state_guard(JobState::AwaitingUpload),
            patch: queued(self.job_patch(JobState::Queued), checked),
        };
        self.state_write(tenant, job, &mutation).await
    }

    /// Every chunk is on the queue.
    pub async fn mark_queued_all(&self, tenant: &TenantId, job: &JobId) -> Result<(), StoreError> {
        let mutation = Mutation {
            guard: Guard::equals(attr::TENANT_ID, tenant.as_str()),
            patch: Patch::default().set(attr::QUEUED_ALL, AttributeValue::Bool(true)),
        };
        self.store.write(&Job::key(tenant, job), &mutation).await?;
        Ok(())
    }

    /// A worker took its first chunk.
    pub async fn mark_running(&self, tenant: &TenantId, job: &JobId) -> Result<(), StoreError> {
        let mutation = Mutation {
            guard: state_guard(JobState::Queued),
            patch: self
                .job_patch(JobState::Running)
                .set_n(attr::STARTED_AT, self.now_ms()),
        };
        self.store.write(&Job::key(tenant, job), &mutation).await?;
        Ok(())
    }

    /// Cancels a job that has not finished: `Ok(job)` canceled now, `Err(current)`
    /// otherwise (`None`: no such job).
    pub async fn cancel(
        &self,
        tenant: &TenantId,
        job: &JobId,
    ) -> Result<Result<Job, Option<Job>>, StoreError> {
        let mutation = Mutation {
            guard: any_state(&[
                JobState::AwaitingUpload,
                JobState::Queued,
                JobState::Running,
            ]),
            patch: self
                .job_patch(JobState::Canceled)
                .set_n(attr::FINISHED_AT, self.now_ms()),
        };
        self.state_write(tenant, job, &mutation).await
    }

    /// The job cannot run (`reason` is ours, never the file's content).
    pub async fn fail(
        &self,
        tenant: &TenantId,
        job: &JobId,
        reason: &str,
    ) -> Result<(), StoreError> {
        let mutation = Mutation {
            guard: any_state(&[JobState::Queued, JobState::Running]),
            patch: self
                .job_patch(JobState::Failed)
                .set_s(attr::FAILURE, reason)
                .set_n(attr::FINISHED_AT, self.now_ms()),
        };
        self.store.write(&Job::key(tenant, job), &mutation).await?;
        Ok(())
    }

    /// Completes the job if every item finished: one conditional write guarded on the
    /// counts it read, so of two workers finishing the last items, the one that sees them
    /// all writes it.
    pub async fn complete_if_done(
        &self,
        tenant: &TenantId,
        job: &JobId,
    ) -> Result<Option<Job>, StoreError> {
        let Some(current) = self.get(tenant, job).await? else {
            return Ok(None);
        };
        if !current.is_done() || current.state.is_terminal() {
            return Ok(None);
        }
        let state = if current.failed == 0 {
            JobState::Completed
        } else {
            JobState::CompletedWithErrors
        };
        let mutation = Mutation {
            guard: Guard::And(vec![
                any_state(&[JobState::Queued, JobState::Running]),
                Guard::Eq(attr::ENROLLED, number_value(current.enrolled)),
                Guard::Eq(attr::FAILED, number_value(current.failed)),
            ]),
            patch: self
                .job_patch(state)
                .set_n(attr::FINISHED_AT, self.now_ms()),
        };
        match self.store.write(&Job::key(tenant, job), &mutation).await? {
            Written::Applied(item) => Ok(Some(decode_job(item)?)),
            Written::Refused(_) => Ok(None),
        }
    }

    async fn state_write(
        &self,
        tenant: &TenantId,
        job: &JobId,
        mutation: &Mutation,
    ) -> Result<Result<Job, Option<Job>>, StoreError> {
        let key = Job::key(tenant, job);
        // A write must never create a job: it exists (its tenant is ours).
        let mutation = Mutation {
            guard: Guard::And(vec![
                Guard::equals(attr::TENANT_ID, tenant.as_str()),
                mutation.guard.clone(),
            ]),
            patch: mutation.patch.clone(),
        };
        match self.store.write(&key, &mutation).await? {
            Written::Applied(item) => Ok(Ok(decode_job(item)?)),
            Written::Refused(item) => Ok(Err(item.map(decode_job).transpose()?)),
        }
    }

    /// Claims an item for `claim_id`: one conditional write that creates it, or takes it
    /// back from a fault (or a worker that died) once its lease lapsed.
    pub async fn claim_item(
        &self,
        tenant: &TenantId,
        job: &JobId,
        line: u32,
        card_id: &str,
        claim_id: &str,
    ) -> Result<ItemClaim, StoreError> {
        let now = self.now_ms();
        let guard = Guard::Or(vec![
            Guard::Absent,
            Guard::And(vec![
                Guard::equals(item_attr::STATE, ItemState::Pending.as_str()),
                Guard::Or(vec![
                    Guard::Missing(lease::attr::LEASE_UNTIL),
                    lease::claimable(now),
                ]),
            ]),
        ]);
        let patch = lease::taken(
            Patch::default(),
            claim_id,
            now + ITEM_LEASE.as_millis() as i64,
        )
        .set_s(crate::store::attr::KIND, Kind::JobItem.as_str())
        .set_s(item_attr::TENANT_ID, tenant.as_str())
        .set_s(item_attr::JOB_ID, job.as_str())
        .set_n(item_attr::LINE, i64::from(line))
        .set_s(item_attr::CARD_ID, card_id)
        .set_s(item_attr::STATE, ItemState::Pending.as_str())
        .set_s(
            index::attr::LIST_PK,
            JobItem::partition(tenant, job, ItemState::Pending),
        )
        .set_s(index::attr::LIST_SK, JobItem::sort_key(line))
        .increment(item_attr::ATTEMPTS, 1)
        .set_n(item_attr::UPDATED_AT, now)
        .set_n(item_attr::EXPIRES_AT, self.expires_at());
        let key = JobItem::key(tenant, job, line);
        match self.store.write(&key, &Mutation { guard, patch }).await? {
            Written::Applied(item) => Ok(ItemClaim::Held(Box::new(JobItem::from_item(item)?))),
            Written::Refused(Some(item)) => {
                let item = JobItem::from_item(item)?;
                Ok(match item.state {
                    ItemState::Pending => ItemClaim::Busy,
                    _ => ItemClaim::Finished(Box::new(item)),
                })
            }
            Written::Refused(None) => {
                Err(StoreError::Corrupt("a refused claim found no item".into()))
            }
        }
    }

    /// A held item's step, recorded under its claim (the cardholder created for it, or
    /// that its create was sent).
    pub async fn note_item(
        &self,
        tenant: &TenantId,
        job: &JobId,
        line: u32,
        claim_id: &str,
        patch: ItemNote<'_>,
    ) -> Result<bool, StoreError> {
        let patch = match patch {
            ItemNote::ContactRequested => {
                Patch::default().set(item_attr::CONTACT_REQUESTED, AttributeValue::Bool(true))
            }
            ItemNote::ContactNotSent => {
                Patch::default().set(item_attr::CONTACT_REQUESTED, AttributeValue::Bool(false))
            }
            ItemNote::Cardholder(id) => Patch::default().set_s(item_attr::CARDHOLDER_ID, id),
        };
        let mutation = Mutation {
            guard: lease::held_by(claim_id),
            patch,
        };
        let written = self
            .store
            .write(&JobItem::key(tenant, job, line), &mutation)
            .await?;
        Ok(matches!(written, Written::Applied(_)))
    }

    /// Records a held item's outcome and counts it in its job, together: `false` when the
    /// claim was lost (another worker took the item over after the lease lapsed).
    pub async fn finish_item(
        &self,
        tenant: &TenantId,
        job: &JobId,
        line: u32,
        claim_id: &str,
        outcome: &ItemOutcome,
    ) -> Result<bool, StoreError> {
        let guard = Guard::And(vec![
            Guard::equals(item_attr::STATE, ItemState::Pending.as_str()),
            lease::held_by(claim_id),
        ]);
        self.finish(tenant, job, line, None, guard, outcome).await
    }

    /// Fails an item no worker could finish (its chunk was dead-lettered): created failed
    /// if never taken, or taken back once its lease lapsed; counted in its job.
    pub async fn fail_abandoned(
        &self,
        tenant: &TenantId,
        job: &JobId,
        line: u32,
        card_id: &str,
        outcome: &ItemOutcome,
    ) -> Result<bool, StoreError> {
        let guard = Guard::Or(vec![
            Guard::Absent,
            Guard::And(vec![
                Guard::equals(item_attr::STATE, ItemState::Pending.as_str()),
                Guard::Or(vec![
                    Guard::Missing(lease::attr::LEASE_UNTIL),
                    lease::claimable(self.now_ms()),
                ]),
            ]),
        ]);
        self.finish(tenant, job, line, Some(card_id), guard, outcome)
            .await
    }

    async fn finish(
        &self,
        tenant: &TenantId,
        job: &JobId,
        line: u32,
        created_for: Option<&str>,
        guard: Guard,
        outcome: &ItemOutcome,
    ) -> Result<bool, StoreError> {
        let now = self.now_ms();
        let (state, counters) = match outcome {
            ItemOutcome::Enrolled { reconciled: true } => {
                (ItemState::Enrolled, vec![attr::ENROLLED, attr::RECONCILED])
            }
            ItemOutcome::Enrolled { reconciled: false } => {
                (ItemState::Enrolled, vec![attr::ENROLLED])
            }
            ItemOutcome::Failed { .. } => (ItemState::Failed, vec![attr::FAILED]),
        };
        let mut item = lease::ended(Patch::default())
            .set_s(item_attr::STATE, state.as_str())
            .set_s(index::attr::LIST_PK, JobItem::partition(tenant, job, state))
            .set_s(index::attr::LIST_SK, JobItem::sort_key(line))
            .set_n(item_attr::UPDATED_AT, now);
        match outcome {
            ItemOutcome::Enrolled { reconciled } => {
                item = item
                    .set(item_attr::RECONCILED, AttributeValue::Bool(*reconciled))
                    .remove(item_attr::CODE)
                    .remove(item_attr::MESSAGE);
            }
            ItemOutcome::Failed { code, message } => {
                item = item
                    .set_s(item_attr::CODE, code)
                    .set_s(item_attr::MESSAGE, message);
            }
        }
        if let Some(card_id) = created_for {
            item = item
                .set_if_absent(
                    crate::store::attr::KIND,
                    string_value(Kind::JobItem.as_str()),
                )
                .set_if_absent(item_attr::TENANT_ID, string_value(tenant.as_str()))
                .set_if_absent(item_attr::JOB_ID, string_value(job.as_str()))
                .set_if_absent(item_attr::LINE, number_value(i64::from(line)))
                .set_if_absent(item_attr::CARD_ID, string_value(card_id))
                .set_if_absent(item_attr::EXPIRES_AT, number_value(self.expires_at()));
        }
        let job_counts = counters
            .into_iter()
            .fold(Patch::default(), |patch, counter| {
                patch.increment(counter, 1)
            })
            .set_n(attr::UPDATED_AT, now);
        let writes = [
            (
                JobItem::key(tenant, job, line),
                Mutation { guard, patch: item },
            ),
            (
                Job::key(tenant, job),
                Mutation {
                    guard: Guard::equals(attr::TENANT_ID, tenant.as_str()),
                    patch: job_counts,
                },
            ),
        ];
        self.store.write_together(&writes).await
    }

    /// A held item hit a fault: given back (its lease ended) for its chunk's next
    /// delivery, with why.
    pub async fn release_item(
        &self,
        tenant: &TenantId,
        job: &JobId,
        line: u32,
        claim_id: &str,
        code: &str,
    ) -> Result<(), StoreError> {
        let mutation = Mutation {
            guard: lease::held_by(claim_id),
            patch: lease::ended(Patch::default())
                .set_s(item_attr::CODE, code)
                .set_n(item_attr::UPDATED_AT, self.now_ms()),
        };
        self.store
            .write(&JobItem::key(tenant, job, line), &mutation)
            .await?;
        Ok(())
    }

    /// A page of a job's items in one state, by line, after `after_line`: the items and
    /// the line to continue after, if there may be more.
    pub async fn items(
        &self,
        tenant: &TenantId,
        job: &JobId,
        state: ItemState,
        after_line: Option<u32>,
        limit: usize,
    ) -> Result<(Vec<JobItem>, Option<u32>), StoreError> {
        let partition = JobItem::partition(tenant, job, state);
        let start_after = after_line.map(|line| {
            Item::from([
                (
                    crate::store::KEY.to_owned(),
                    string_value(JobItem::key(tenant, job, line)),
                ),
                (
                    index::attr::LIST_PK.to_owned(),
                    string_value(partition.clone()),
                ),
                (
                    index::attr::LIST_SK.to_owned(),
                    string_value(JobItem::sort_key(line)),
                ),
            ])
        });
        let page = self
            .store
            .query(&Query {
                index: Index::ByTenant,
                partition,
                up_to: None,
                descending: false,
                limit,
                start_after,
            })
            .await?;
        let keys: Vec<String> = page
            .items
            .iter()
            .filter_map(|entry| crate::store::string(entry, crate::store::KEY).map(str::to_owned))
            .collect();
        let mut found = self.store.read_many(&keys).await?;
        let items: Vec<JobItem> = keys
            .iter()
            .filter_map(|key| found.remove(key))
            .map(JobItem::from_item)
            .collect::<Result<_, _>>()?;
        // Read after the index: an item that moved on since is left for its new state.
        let items: Vec<JobItem> = items.into_iter().filter(|i| i.state == state).collect();
        let next = page
            .next
            .as_ref()
            .and_then(|next| crate::store::string(next, index::attr::LIST_SK))
            .and_then(|line| line.parse().ok());
        Ok((items, next))
    }
}

/// A held item's intermediate step.
pub enum ItemNote<'a> {
    /// A new cardholder's create is about to be sent.
    ContactRequested,
    /// It was not sent after all (it never reached the upstream, or was refused).
    ContactNotSent,
    Cardholder(&'a str),
}

/// The counts and columns a checked file gives a job.
fn queued(patch: Patch, checked: &Queued) -> Patch {
    let patch = patch
        .set_n(attr::TOTAL, checked.total as i64)
        .set_n(attr::CHUNK_COUNT, checked.chunk_count as i64)
        .set_n(attr::ENROLLED, 0)
        .set_n(attr::RECONCILED, 0)
        .set_n(attr::FAILED, 0);
    match &checked.columns {
        Some(columns) => patch.set(
            attr::COLUMNS,
            AttributeValue::L(columns.iter().map(|c| string_value(c.as_str())).collect()),
        ),
        None => patch,
    }
}

/// A unit enum's serde name.
fn serde_plain<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}
