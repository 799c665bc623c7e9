//! Bulk enrollment as jobs: a card program's portfolio (up to [`source::MAX_ITEMS`]
//! cards) enrolled at the upstream's limit, tracked to the last failure.
//!
//! A job ([`Job`], `JOB#<tenant>#<job_id>`) is created from items given inline or
//! uploaded (a presigned URL; its object is read back and every line checked before
//! anything is queued). Its file is split into chunks of [`source::CHUNK_ITEMS`] items,
//! one queue message each ([`ChunkMessage`], the tenant's message group of a fair queue).
//! A worker takes a chunk and, for each item, makes one conditional write claiming it
//! ([`JobItem`], `JOBITEM#<tenant>#<job_id>#<line>`), enrolls the card as the
//! synchronous route does (a 409 for the same cardholder reconciled as enrolled), and
//! records the outcome together with the job's counters (one transaction): each item is
//! counted once however often its chunk is delivered. The last item's writer completes
//! the job ([`repo::Jobs::complete_if_done`]); `job.completed` follows from the change
//! stream.

use serde::{Deserialize, Serialize};

use crate::domain::{FieldError, TenantId};
use crate::store::Kind;
use crate::store::record::{stored_record, the_same};

pub mod repo;
pub mod source;

pub use repo::Jobs;
pub use source::{ChunkRange, SourceFormat};

/// A job's id: a UUID.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(String);

impl JobId {
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// The job of an `Idempotency-Key`: the same key (its keyed digest) names the same
    /// job, so a retried create finds it.
    pub fn from_digest(digest: &str) -> Self {
        let mut bytes = [0u8; 16];
        for (i, pair) in digest.as_bytes().chunks(2).take(16).enumerate() {
            let hex = std::str::from_utf8(pair).unwrap_or("00");
            bytes[i] = u8::from_str_radix(hex, 16).unwrap_or(0);
        }
        Self(
            uuid::Builder::from_random_bytes(bytes)
                .into_uuid()
                .to_string(),
        )
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        uuid::Uuid::parse_str(raw.trim())
            .map(|id| Self(id.to_string()))
            .map_err(|_| FieldError::new(field, "is not a job id"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Created for an upload: waiting for the file and `start`.
    AwaitingUpload,
    /// Checked and queued; no item started yet.
    Queued,
    Running,
    /// Every item enrolled.
    Completed,
    /// Every item finished, some failed.
    CompletedWithErrors,
    /// Canceled by its program: items not started were not run.
    Canceled,
    /// It could not run (its file was gone when a worker came to it).
    Failed,
}

impl JobState {
    pub const ALL: [JobState; 7] = [
        JobState::AwaitingUpload,
        JobState::Queued,
        JobState::Running,
        JobState::Completed,
        JobState::CompletedWithErrors,
        JobState::Canceled,
        JobState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::AwaitingUpload => "awaiting_upload",
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Completed => "completed",
            JobState::CompletedWithErrors => "completed_with_errors",
            JobState::Canceled => "canceled",
            JobState::Failed => "failed",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Completed
                | JobState::CompletedWithErrors
                | JobState::Canceled
                | JobState::Failed
        )
    }
}

/// Where an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    /// Being worked on (under a lease), or waiting for its chunk's next delivery after a
    /// fault.
    Pending,
    Enrolled,
    Failed,
}

impl ItemState {
    pub const ALL: [ItemState; 3] = [ItemState::Pending, ItemState::Enrolled, ItemState::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemState::Pending => "pending",
            ItemState::Enrolled => "enrolled",
            ItemState::Failed => "failed",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| FieldError::new(field, "must be pending, enrolled or failed"))
    }
}

stored_record! {
    /// A job, as stored: small (its counters move with every item).
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Job, attributes in attr {
        job_id: JobId => JOB_ID,
        tenant_id: TenantId => TENANT_ID,
        state: JobState => STATE,
        format: SourceFormat => FORMAT,
        /// A CSV file's header.
        #[serde(default)]
        columns: Option<Vec<String>> => COLUMNS,
        /// Where its items are (the object store).
        object_key: String => OBJECT_KEY,
        #[serde(default)]
        total: i64 => TOTAL,
        #[serde(default)]
        chunk_count: i64 => CHUNK_COUNT,
        #[serde(default)]
        enrolled: i64 => ENROLLED,
        /// Of the enrolled: those the upstream had enrolled already (a 409 for the same
        /// cardholder, reconciled).
        #[serde(default)]
        reconciled: i64 => RECONCILED,
        #[serde(default)]
        failed: i64 => FAILED,
        /// Every chunk was queued (a retried create or start queues them again until so).
        #[serde(default)]
        queued_all: bool => QUEUED_ALL,
        /// The keyed digest of the create's `Idempotency-Key` and of its request.
        #[serde(default)]
        request: Option<String> => REQUEST,
        /// Why it failed.
        #[serde(default)]
        failure: Option<String> => FAILURE,
        /// Epoch ms.
        created_at: i64 => CREATED_AT,
        updated_at: i64 => UPDATED_AT,
        #[serde(default)]
        started_at: Option<i64> => STARTED_AT,
        #[serde(default)]
        finished_at: Option<i64> => FINISHED_AT,
        #[serde(default)]
        upload_expires_at: Option<i64> => UPLOAD_EXPIRES_AT,
        /// TTL, epoch seconds.
        expires_at: i64 => EXPIRES_AT,
        /// The write that made this version (the event of a change is named by it).
        #[serde(default)]
        mutation_id: Option<String> => MUTATION_ID,
    }
}

the_same! {
    attr::TENANT_ID => crate::store::attr::TENANT_ID,
    attr::CREATED_AT => crate::store::attr::CREATED_AT,
    attr::UPDATED_AT => crate::store::attr::UPDATED_AT,
    attr::EXPIRES_AT => crate::store::attr::EXPIRES_AT,
}

impl Job {
    pub fn key(tenant: &TenantId, job: &JobId) -> String {
        Kind::Job.key(&[tenant.as_str(), job.as_str()])
    }

    pub fn from_item(item: crate::store::Item) -> Result<Self, crate::store::StoreError> {
        serde_dynamo::from_item(item).map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))
    }

    /// Items that finished (enrolled or failed).
    pub fn finished(&self) -> i64 {
        self.enrolled + self.failed
    }

    /// Every item finished.
    pub fn is_done(&self) -> bool {
        self.total > 0 && self.finished() >= self.total
    }

    /// When it should finish at the pace it has kept (epoch ms), while running.
    pub fn estimated_finish(&self, now_ms: i64) -> Option<i64> {
        let started = self.started_at?;
        let done = self.finished();
        if self.state != JobState::Running || done == 0 || now_ms <= started {
            return None;
        }
        let per_item = (now_ms - started) as f64 / done as f64;
        Some(now_ms + (per_item * (self.total - done) as f64) as i64)
    }
}

stored_record! {
    /// One item of a job, written when a worker first takes it. Never a contact's
    /// details: those stay in the job's file.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct JobItem, attributes in item_attr {
        tenant_id: TenantId => TENANT_ID,
        job_id: JobId => JOB_ID,
        line: i64 => LINE,
        card_id: String => CARD_ID,
        /// The cardholder it is linked to (a new one's id once created).
        #[serde(default)]
        cardholder_id: Option<String> => CARDHOLDER_ID,
        state: ItemState => STATE,
        #[serde(default)]
        attempts: i64 => ATTEMPTS,
        /// The upstream had enrolled it already (reconciled).
        #[serde(default)]
        reconciled: bool => RECONCILED,
        /// A new cardholder's create was sent: after a fault its outcome is unknown, and
        /// it is never sent twice.
        #[serde(default)]
        contact_requested: bool => CONTACT_REQUESTED,
        #[serde(default)]
        code: Option<String> => CODE,
        #[serde(default)]
        message: Option<String> => MESSAGE,
        #[serde(default)]
        claim_id: Option<String> => CLAIM_ID,
        #[serde(default)]
        lease_until: Option<i64> => LEASE_UNTIL,
        updated_at: i64 => UPDATED_AT,
        expires_at: i64 => EXPIRES_AT,
    }
}

the_same! {
    item_attr::TENANT_ID => crate::store::attr::TENANT_ID,
    item_attr::UPDATED_AT => crate::store::attr::UPDATED_AT,
    item_attr::EXPIRES_AT => crate::store::attr::EXPIRES_AT,
    item_attr::CLAIM_ID => crate::lease::attr::CLAIM_ID,
    item_attr::LEASE_UNTIL => crate::lease::attr::LEASE_UNTIL,
}

impl JobItem {
    pub fn key(tenant: &TenantId, job: &JobId, line: u32) -> String {
        Kind::JobItem.key(&[tenant.as_str(), job.as_str(), &format!("{line:07}")])
    }

    pub fn from_item(item: crate::store::Item) -> Result<Self, crate::store::StoreError> {
        serde_dynamo::from_item(item).map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))
    }

    /// The listing index's partition of a job's items in one state.
    pub fn partition(tenant: &TenantId, job: &JobId, state: ItemState) -> String {
        format!(
            "{tenant}#{}{job}#{}",
            Kind::JobItem.prefix(),
            state.as_str()
        )
    }

    /// Its place in that partition: by line.
    pub fn sort_key(line: u32) -> String {
        format!("{line:07}")
    }
}

/// A chunk of a job to run: one queue message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkMessage {
    pub tenant: TenantId,
    pub job_id: JobId,
    pub range: ChunkRange,
}

impl crate::queue::Message for ChunkMessage {
    /// The fair queue's message group: the card program.
    fn group(&self) -> &str {
        self.tenant.as_str()
    }
}

/// The object key of a job's items.
pub fn object_key(tenant: &TenantId, job: &JobId, format: SourceFormat) -> String {
    format!("jobs/{tenant}/{job}/items.{}", format.as_str())
}
