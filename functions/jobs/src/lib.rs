//! Bulk enrollment as jobs (`gateway::jobs`): two functions built from this crate.
//!
//! * the **jobs** function: a card program's job API under
//!   `/card/issuance/api/issuing/3ds/v2/enroll/jobs` — create one from items given inline
//!   or uploaded through a presigned URL, start an upload's, read a job, list its items
//!   by outcome, cancel it. Every line is checked before anything is queued;
//! * the **job-worker** function: the queue's consumer, which enrolls each chunk's items
//!   at this instance's share of the upstream's limit, and the dead-letter queue's, which
//!   fails the items of a chunk that could not be handled.
//!
//! [`build_api`] and [`build_worker`] are their composition roots: the Lambda mains, the
//! local stack and the tests call them. [`routes`] is the API's route table.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use gateway::clock::SharedClock;
use gateway::config::{
    CardIssuanceSettings, ConfigError, Env, HttpSettings, SecretSettings, StoreSettings,
};
use gateway::http::{self, Envelope, HasTenants, Route};
use gateway::jobs::{ChunkMessage, Jobs};
use gateway::keys::GatewayKeys;
use gateway::objects::SharedObjects;
use gateway::platform::Platform;
use gateway::queue::Queue;
use gateway::secrets::{Cached, SecretError};
use gateway::store::scope::TableScope;
use gateway::store::{Index, Kind};
use gateway::tenants::Registry;
use gateway::tenants::parts::RegistryPart;

mod api;
pub mod lambda;
pub mod s3;
mod worker;

pub use worker::{ChunkDone, JobWorker};

/// Where the chunks of jobs are queued (SQS on AWS, in process locally).
pub type ChunkQueue = Arc<dyn Queue<ChunkMessage>>;

/// The parts of the tenant registry the job API reads: none (who is a card program, and
/// its budgets, are in the routing document).
pub const API_REGISTRY_PARTS: &[RegistryPart] = &[];

/// The settings naming the secrets the job API reads (and the template grants it).
pub const API_SECRET_SETTINGS: &[&str] = &["TENANT_REGISTRY_SECRET_ID", "ISSUER_KEYS_SECRET_ID"];

/// The job API's share of the table: the jobs, and their items read through the listing
/// index.
pub const API_TABLE_SCOPE: TableScope = TableScope {
    function: "jobs",
    reads: &[Kind::Job, Kind::JobItem],
    writes: &[Kind::Job],
    queries: &[Index::ByTenant],
};

/// The parts of the tenant registry the worker reads: a card program's own card-issuance
/// credentials.
pub const WORKER_REGISTRY_PARTS: &[RegistryPart] = &[RegistryPart::CardIssuance];

/// The settings naming the secrets the worker reads.
pub const WORKER_SECRET_SETTINGS: &[&str] = &[
    "TENANT_REGISTRY_SECRET_ID",
    "TENANT_CARD_ISSUANCE_SECRET_ID",
    "CARD_ISSUANCE_SECRET_ID",
];

/// The worker's share of the table: jobs and their items, and the cards' and
/// cardholders' records that enrolling writes.
pub const WORKER_TABLE_SCOPE: TableScope = TableScope {
    function: "job-worker",
    reads: &[
        Kind::Job,
        Kind::JobItem,
        Kind::CardEnrollment,
        Kind::Cardholder,
    ],
    writes: &[
        Kind::Job,
        Kind::JobItem,
        Kind::CardEnrollment,
        Kind::Cardholder,
    ],
    queries: &[],
};

/// Settings of the job API.
#[derive(Debug, Clone)]
pub struct JobsConfig {
    pub store: StoreSettings,
    pub secrets: SecretSettings,
    /// `ISSUER_KEYS_SECRET_ID`: a create's request is fingerprinted under the issuer
    /// side's keys (its `Idempotency-Key`).
    pub issuer_keys_secret: String,
    /// `JOBS_BUCKET`: where jobs' files are.
    pub bucket: String,
    /// `JOB_QUEUE_URL`: where their chunks are queued.
    pub queue_url: String,
    /// How long an upload URL is valid (`JOB_UPLOAD_URL_SECS`, 1 hour).
    pub upload_valid_for: Duration,
}

impl JobsConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            store: StoreSettings::from_env(env)?,
            secrets: SecretSettings::from_env(env)?.holding(API_REGISTRY_PARTS)?,
            issuer_keys_secret: env.required("ISSUER_KEYS_SECRET_ID")?,
            bucket: env.required("JOBS_BUCKET")?,
            queue_url: env.required("JOB_QUEUE_URL")?,
            upload_valid_for: Duration::from_secs(env.ranged(
                "JOB_UPLOAD_URL_SECS",
                3_600,
                60..=43_200,
            )?),
        })
    }
}

/// Settings of the job worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub store: StoreSettings,
    pub secrets: SecretSettings,
    pub http: HttpSettings,
    /// This instance's share of the upstream's limit (`AHRVO_MAX_REQUESTS_PER_10S`):
    /// × the event source's `MaximumConcurrency`, the jobs' share of the fleet's.
    pub card_issuance: CardIssuanceSettings,
    pub card_issuance_secret: String,
    pub bucket: String,
    pub queue_url: String,
    /// `JOB_DEAD_LETTER_QUEUE_ARN`: records from it are chunks no worker could handle.
    pub dead_letter_arn: String,
    /// Items of a chunk worked on at once (`JOB_ITEM_CONCURRENCY`, 8): the rate limit,
    /// not this, sets the pace.
    pub item_concurrency: usize,
}

impl WorkerConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            store: StoreSettings::from_env(env)?,
            secrets: SecretSettings::from_env(env)?.holding(WORKER_REGISTRY_PARTS)?,
            http: HttpSettings::from_env(env)?,
            card_issuance: CardIssuanceSettings::from_env(env)?,
            card_issuance_secret: env.required("CARD_ISSUANCE_SECRET_ID")?,
            bucket: env.required("JOBS_BUCKET")?,
            queue_url: env.required("JOB_QUEUE_URL")?,
            dead_letter_arn: env.required("JOB_DEAD_LETTER_QUEUE_ARN")?,
            item_concurrency: env.ranged("JOB_ITEM_CONCURRENCY", 8, 1..=64)?,
        })
    }
}

/// What the job API's handlers hold.
struct JobsApp {
    jobs: Jobs,
    objects: SharedObjects,
    queue: ChunkQueue,
    tenants: Cached<Registry>,
    issuer_keys: Cached<GatewayKeys>,
    clock: SharedClock,
    upload_valid_for: Duration,
}

impl HasTenants for JobsApp {
    fn tenants(&self) -> &Cached<Registry> {
        &self.tenants
    }
}

type State = Arc<JobsApp>;

const JOBS: &str = "/card/issuance/api/issuing/3ds/v2/enroll/jobs";
const JOB: &str = "/card/issuance/api/issuing/3ds/v2/enroll/jobs/{job_id}";
const JOB_START: &str = "/card/issuance/api/issuing/3ds/v2/enroll/jobs/{job_id}/start";
const JOB_ITEMS: &str = "/card/issuance/api/issuing/3ds/v2/enroll/jobs/{job_id}/items";
const JOB_CANCEL: &str = "/card/issuance/api/issuing/3ds/v2/enroll/jobs/{job_id}/cancel";

fn route_list() -> Vec<Route<State>> {
    vec![
        Route::post(JOBS, api::create),
        Route::post(JOB_START, api::start),
        Route::get(JOB, api::get),
        Route::get(JOB_ITEMS, api::items),
        Route::post(JOB_CANCEL, api::cancel),
    ]
}

/// `(method, path)` of every route the job API serves.
pub fn routes() -> Vec<http::routes::RouteKey> {
    http::routes::table(&route_list())
}

/// The job API's router, in the card-issuance API's envelope. Its secrets are read
/// first: a missing or malformed one fails the cold start.
pub async fn build_api(
    config: &JobsConfig,
    platform: &Platform,
    objects: SharedObjects,
    queue: ChunkQueue,
) -> Result<Router, SecretError> {
    let platform = &platform.scoped(API_TABLE_SCOPE);
    let app = JobsApp {
        jobs: Jobs::new(platform.store.clone(), platform.clock.clone()),
        objects,
        queue,
        tenants: platform.tenant_registry(&config.secrets, API_REGISTRY_PARTS),
        issuer_keys: platform.secret(&config.issuer_keys_secret, &config.secrets, ()),
        clock: platform.clock.clone(),
        upload_valid_for: config.upload_valid_for,
    };
    gateway::secrets::load_all(&[&app.tenants, &app.issuer_keys]).await?;
    Ok(http::router(
        route_list(),
        Arc::new(app),
        Envelope::CardIssuance,
    ))
}

/// The jobs bucket and the job queue on AWS, as both functions' mains build them.
pub fn on_aws(platform: &Platform, bucket: &str, queue_url: &str) -> (SharedObjects, ChunkQueue) {
    let aws = platform
        .aws
        .as_ref()
        .expect("on Lambda the AWS configuration is loaded");
    let objects = Arc::new(s3::S3Objects::new(s3::s3_client(aws), bucket.to_owned()));
    let queue = Arc::new(gateway::queue::SqsQueue::new(
        aws_sdk_sqs::Client::new(aws),
        queue_url.to_owned(),
    ));
    (objects, queue)
}

/// The job worker. Its secrets are read first.
pub async fn build_worker(
    config: &WorkerConfig,
    platform: &Platform,
    objects: SharedObjects,
    queue: ChunkQueue,
) -> Result<JobWorker, SecretError> {
    let platform = &platform.scoped(WORKER_TABLE_SCOPE);
    let worker = JobWorker::new(config, platform, objects, queue);
    worker.load_secrets().await?;
    Ok(worker)
}
