//! The job API (a card program's key; the card-issuance API's envelope):
//!
//! * `POST .../jobs` — `{"items": [...]}` (up to [`MAX_INLINE_ITEMS`]) checked, stored and
//!   queued at once; or `{"upload": {"format": "csv"|"jsonl"}}`, answered with a
//!   presigned URL to `PUT` the file to. `Idempotency-Key` makes a retried create find
//!   the job it made. `202` with the job.
//! * `POST .../jobs/{job_id}/start` — an upload's file read back, every line checked
//!   (the first bad one named `lines[n].field`, and nothing queued), then queued.
//! * `GET .../jobs/{job_id}` — its state, counts, progress and estimated finish.
//! * `GET .../jobs/{job_id}/items?state=pending|enrolled|failed&after=&limit=` — its items
//!   in one state, by line.
//! * `POST .../jobs/{job_id}/cancel` — items not started are not run.
//!
//! Another program's job answers `404 JOB_NOT_FOUND`, as one that does not exist: its
//! key names the tenant.

use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use gateway::clock::rfc3339;
use gateway::domain::FieldError;
use gateway::domain::TenantId;
use gateway::error::{ApiError, ErrorCode};
use gateway::http::PathParams;
use gateway::http::{IssuerCaller, query_param};
use gateway::idempotency::IdempotencyKey;
use gateway::jobs::repo::{Created, NewJob, Queued};
use gateway::jobs::source::{self, CheckedSource, Checks, ItemLine, MAX_BYTES, SourceFormat};
use gateway::jobs::{ChunkMessage, ItemState, Job, JobId, JobItem, JobState, object_key};
use gateway::keys::{GatewayKeys, KeyedValue};
use gateway::objects::ObjectError;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::State as AppState;

/// The most items a create takes inline; more go through an upload.
pub const MAX_INLINE_ITEMS: usize = 1_000;
/// The largest inline body.
const MAX_INLINE_BYTES: usize = 1024 * 1024;

/// A create's body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateJob {
    #[serde(default)]
    items: Option<Vec<ItemLine>>,
    #[serde(default)]
    upload: Option<UploadSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadSpec {
    #[serde(default)]
    format: String,
}

/// What the program may use in its items: its own budgets, and today's date.
fn checks_for<'a>(owns: &'a dyn Fn(&str) -> bool, app: &AppState) -> Checks<'a> {
    Checks {
        owns_budget: owns,
        today: gateway::clock::utc_date(app.clock.now_ms()),
    }
}

fn job_not_found() -> ApiError {
    ApiError::of(ErrorCode::JobNotFound)
}

fn object_error(error: ObjectError) -> ApiError {
    ApiError::Internal(format!("the jobs' object store: {error}"))
}

fn store_to_api(error: gateway::store::StoreError) -> ApiError {
    ApiError::Store(error)
}

/// The job as its program sees it.
fn view(job: &Job, now_ms: i64) -> Value {
    let finished = job.finished();
    let unfinished = (job.total - finished).max(0);
    let progress = if job.total > 0 {
        finished as f64 / job.total as f64
    } else {
        0.0
    };
    let waiting = if job.state == JobState::Canceled || job.state == JobState::Failed {
        "not_run"
    } else {
        "pending"
    };
    json!({
        "job_id": job.job_id,
        "state": job.state.as_str(),
        "format": job.format.as_str(),
        "total": job.total,
        "counts": {
            "enrolled": job.enrolled,
            "reconciled": job.reconciled,
            "failed": job.failed,
            waiting: unfinished,
        },
        "progress": (progress * 10_000.0).round() / 10_000.0,
        "created_at": rfc3339(job.created_at),
        "started_at": job.started_at.map(rfc3339),
        "finished_at": job.finished_at.map(rfc3339),
        "estimated_finish_at": job.estimated_finish(now_ms).map(rfc3339),
        "failure": job.failure,
    })
}

fn success(status: StatusCode, data: Value) -> Response {
    (status, Json(json!({"code": "SUCCESS", "data": data}))).into_response()
}

/// The job id of an `Idempotency-Key` (the same key, the same job), or a new one.
fn job_id_for(caller: &IssuerCaller, key: Option<&IdempotencyKey>) -> JobId {
    match key {
        Some(key) => {
            let digest = Sha256::digest(format!("{}\n{}", caller.id(), key.as_str()).as_bytes());
            JobId::from_digest(&hex::encode(digest))
        }
        None => JobId::new(),
    }
}

/// `POST .../jobs`.
pub(crate) async fn create(
    State(app): State<AppState>,
    caller: IssuerCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_INLINE_BYTES).await.map_err(|_| {
        ApiError::with_message(
            ErrorCode::PayloadTooLarge,
            format!("an inline job's body must not be larger than {MAX_INLINE_BYTES} bytes: upload larger ones"),
        )
    })?;
    let key = IdempotencyKey::from_headers(&headers)?;
    let request: CreateJob = gateway::http::parse_json(&bytes)?;
    let keys = app.issuer_keys.get().await?;
    let creating = Creating {
        tenant: caller.id().clone(),
        job_id: job_id_for(&caller, key.as_ref()),
        keyed: key.is_some(),
        keys: &keys,
    };
    match (request.items, request.upload) {
        (Some(items), None) => create_inline(&app, &caller, creating, items).await,
        (None, Some(upload)) => create_for_upload(&app, creating, &upload).await,
        _ => Err(ApiError::invalid(
            "items",
            "give items, or upload, not both",
        )),
    }
}

/// A job being created: whose, its id, and whether under an `Idempotency-Key`.
struct Creating<'a> {
    tenant: TenantId,
    job_id: JobId,
    keyed: bool,
    keys: &'a GatewayKeys,
}

impl Creating<'_> {
    /// The create's request digest (kept under an `Idempotency-Key`, to tell its retry
    /// from another request).
    fn digest(&self, request: &Value) -> KeyedValue {
        KeyedValue::new(
            self.keys
                .fingerprints("job-create", self.tenant.as_str(), request),
        )
    }

    fn new_job(
        &self,
        format: SourceFormat,
        digest: &KeyedValue,
        checked: Option<Queued>,
        upload_expires_at: Option<i64>,
    ) -> NewJob {
        NewJob {
            tenant: self.tenant.clone(),
            job_id: self.job_id.clone(),
            format,
            object_key: object_key(&self.tenant, &self.job_id, format),
            request: self.keyed.then(|| digest.current().to_owned()),
            checked,
            upload_expires_at,
        }
    }
}

/// An inline job: its items checked, kept as JSON lines and queued at once.
async fn create_inline(
    app: &AppState,
    caller: &IssuerCaller,
    creating: Creating<'_>,
    items: Vec<ItemLine>,
) -> Result<Response, ApiError> {
    if items.len() > MAX_INLINE_ITEMS {
        return Err(ApiError::invalid(
            "items",
            format!("at most {MAX_INLINE_ITEMS} items inline: upload larger jobs"),
        ));
    }
    let owns = |budget: &str| caller.issuer().owns_budget(budget);
    let (file, checked) = source::check_inline(items, &checks_for(&owns, app))?;
    let digest = creating.digest(&json!({ "inline": hex::encode(Sha256::digest(&file)) }));
    let new = creating.new_job(
        SourceFormat::JsonLines,
        &digest,
        Some(queued_of(&checked)),
        None,
    );
    app.objects
        .put(&new.object_key, Bytes::from(file))
        .await
        .map_err(object_error)?;
    let (job, replayed) = created(app, new, &digest).await?;
    let job = enqueue_unqueued(app, job, &checked).await?;
    tracing::info!(job_id = %job.job_id, items = job.total, replayed, "bulk enrollment job created");
    Ok(answer(
        success(StatusCode::ACCEPTED, view(&job, app.clock.now_ms())),
        replayed,
    ))
}

/// A job for an upload: created awaiting its file, with the URL to `PUT` it to.
async fn create_for_upload(
    app: &AppState,
    creating: Creating<'_>,
    upload: &UploadSpec,
) -> Result<Response, ApiError> {
    let format = SourceFormat::parse("upload.format", &upload.format)?;
    let digest = creating.digest(&json!({"upload": format.as_str()}));
    let now = app.clock.now_ms();
    let object = object_key(&creating.tenant, &creating.job_id, format);
    let url = app
        .objects
        .upload_url(&object, app.upload_valid_for, now / 1000)
        .await
        .map_err(object_error)?;
    let new = creating.new_job(format, &digest, None, Some(url.expires_at * 1000));
    let (job, replayed) = created(app, new, &digest).await?;
    let mut data = view(&job, now);
    if job.state == JobState::AwaitingUpload {
        data["upload"] = json!({
            "method": "PUT",
            "url": url.url,
            "expires_at": rfc3339(url.expires_at * 1000),
            "max_bytes": MAX_BYTES,
            "then": format!("POST /card/issuance/api/issuing/3ds/v2/enroll/jobs/{}/start", job.job_id),
        });
    }
    tracing::info!(job_id = %job.job_id, replayed, "bulk enrollment job awaiting its upload");
    Ok(answer(success(StatusCode::ACCEPTED, data), replayed))
}

fn answer(response: Response, replayed: bool) -> Response {
    let mut response = response;
    if replayed {
        response.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    response
}

fn queued_of(checked: &CheckedSource) -> Queued {
    Queued {
        total: checked.items,
        chunk_count: checked.chunks.len(),
        columns: checked.columns.clone(),
    }
}

/// The job created, or the one a retried create made before (the same request under the
/// same key; another request is `409 IDEMPOTENCY_KEY_REUSED`).
async fn created(
    app: &AppState,
    new: NewJob,
    digest: &KeyedValue,
) -> Result<(Job, bool), ApiError> {
    match app.jobs.create(new).await.map_err(store_to_api)? {
        Created::New(job) => Ok((*job, false)),
        Created::Existing(job) => match &job.request {
            Some(request) if digest.matches(request) => Ok((*job, true)),
            _ => Err(ErrorCode::IdempotencyKeyReused.into()),
        },
    }
}

/// Queues the chunks of a job whose chunks were not all queued (a create or start that
/// failed half way is retried to completion: a chunk queued twice finds its items done).
async fn enqueue_unqueued(
    app: &AppState,
    job: Job,
    checked: &CheckedSource,
) -> Result<Job, ApiError> {
    if job.queued_all || job.state != JobState::Queued {
        return Ok(job);
    }
    let messages: Vec<ChunkMessage> = checked
        .chunks
        .iter()
        .map(|range| ChunkMessage {
            tenant: job.tenant_id.clone(),
            job_id: job.job_id.clone(),
            range: *range,
        })
        .collect();
    app.queue.enqueue_all(&messages).await.map_err(|e| {
        tracing::error!(error = %e, "a job's chunks could not all be queued: a retry queues them");
        ApiError::with_message(
            ErrorCode::StoreUnavailable,
            "the job's items could not all be queued; retry the same request",
        )
    })?;
    app.jobs
        .mark_queued_all(&job.tenant_id, &job.job_id)
        .await
        .map_err(store_to_api)?;
    Ok(Job {
        queued_all: true,
        ..job
    })
}

fn parse_job_id(raw: &str) -> Result<JobId, ApiError> {
    JobId::parse("job_id", raw).map_err(|_| job_not_found())
}

/// `POST .../jobs/{job_id}/start`: the uploaded file, read back and checked whole.
pub(crate) async fn start(
    State(app): State<AppState>,
    caller: IssuerCaller,
    PathParams(job_id): PathParams<String>,
) -> Result<Response, ApiError> {
    let job_id = parse_job_id(&job_id)?;
    let tenant = caller.id();
    let job = app
        .jobs
        .get(tenant, &job_id)
        .await
        .map_err(store_to_api)?
        .ok_or_else(job_not_found)?;
    match job.state {
        JobState::AwaitingUpload => {}
        JobState::Queued if !job.queued_all => {}
        state if state.is_terminal() => {
            return Err(ApiError::with_message(
                ErrorCode::JobFinished,
                format!("this job is {}", state.as_str()),
            ));
        }
        _ => {
            let data = view(&job, app.clock.now_ms());
            return Ok(answer(success(StatusCode::ACCEPTED, data), true));
        }
    }
    let limit = MAX_BYTES as u64 + 1;
    let file = match app.objects.get_range(&job.object_key, 0, Some(limit)).await {
        Ok(file) => file,
        Err(ObjectError::Missing) => return Err(ErrorCode::UploadMissing.into()),
        Err(other) => return Err(object_error(other)),
    };
    let owns = |budget: &str| caller.issuer().owns_budget(budget);
    let checked = source::check_file(job.format, &file, &checks_for(&owns, &app))?;
    let job = match job.state {
        JobState::AwaitingUpload => match app
            .jobs
            .queue(tenant, &job_id, &queued_of(&checked))
            .await
            .map_err(store_to_api)?
        {
            Ok(job) => job,
            // Started by a concurrent start, or canceled meanwhile: as it is now.
            Err(Some(current)) => current,
            Err(None) => return Err(job_not_found()),
        },
        _ => job,
    };
    let job = enqueue_unqueued(&app, job, &checked).await?;
    tracing::info!(job_id = %job.job_id, items = job.total, "bulk enrollment job queued");
    Ok(success(
        StatusCode::ACCEPTED,
        view(&job, app.clock.now_ms()),
    ))
}

/// `GET .../jobs/{job_id}`.
pub(crate) async fn get(
    State(app): State<AppState>,
    caller: IssuerCaller,
    PathParams(job_id): PathParams<String>,
) -> Result<Response, ApiError> {
    let job_id = parse_job_id(&job_id)?;
    let job = app
        .jobs
        .get(caller.id(), &job_id)
        .await
        .map_err(store_to_api)?
        .ok_or_else(job_not_found)?;
    Ok(success(StatusCode::OK, view(&job, app.clock.now_ms())))
}

/// `GET .../jobs/{job_id}/items?state=&after=&limit=`.
pub(crate) async fn items(
    State(app): State<AppState>,
    caller: IssuerCaller,
    PathParams(job_id): PathParams<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let job_id = parse_job_id(&job_id)?;
    let query = query.as_deref();
    let state = match query_param(query, "state") {
        Some(state) => ItemState::parse("state", &state)?,
        None => ItemState::Failed,
    };
    let after = match query_param(query, "after") {
        Some(after) => Some(after.parse::<u32>().map_err(|_| {
            FieldError::new("after", "must be the next_after of the previous page")
        })?),
        None => None,
    };
    let limit = match query_param(query, "limit") {
        Some(limit) => limit
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=1000).contains(l))
            .ok_or_else(|| FieldError::new("limit", "must be an integer from 1 to 1000"))?,
        None => 100,
    };
    let tenant = caller.id();
    app.jobs
        .get(tenant, &job_id)
        .await
        .map_err(store_to_api)?
        .ok_or_else(job_not_found)?;
    let (items, next) = app
        .jobs
        .items(tenant, &job_id, state, after, limit)
        .await
        .map_err(store_to_api)?;
    let items: Vec<Value> = items.iter().map(item_view).collect();
    Ok(success(
        StatusCode::OK,
        json!({
            "job_id": job_id,
            "state": state.as_str(),
            "items": items,
            "has_more": next.is_some(),
            "next_after": next,
        }),
    ))
}

/// An item as its program sees it: its card, cardholder and outcome (never a contact's
/// details).
fn item_view(item: &JobItem) -> Value {
    json!({
        "line": item.line,
        "card_id": item.card_id,
        "cardholder_id": item.cardholder_id,
        "state": item.state.as_str(),
        "reconciled": item.reconciled,
        "attempts": item.attempts,
        "code": item.code,
        "message": item.message,
        "updated_at": rfc3339(item.updated_at),
    })
}

/// `POST .../jobs/{job_id}/cancel`.
pub(crate) async fn cancel(
    State(app): State<AppState>,
    caller: IssuerCaller,
    PathParams(job_id): PathParams<String>,
) -> Result<Response, ApiError> {
    let job_id = parse_job_id(&job_id)?;
    match app
        .jobs
        .cancel(caller.id(), &job_id)
        .await
        .map_err(store_to_api)?
    {
        Ok(job) => {
            tracing::info!(job_id = %job.job_id, "bulk enrollment job canceled");
            Ok(success(StatusCode::OK, view(&job, app.clock.now_ms())))
        }
        Err(Some(job)) if job.state == JobState::Canceled => Ok(answer(
            success(StatusCode::OK, view(&job, app.clock.now_ms())),
            true,
        )),
        Err(Some(job)) => Err(ApiError::with_message(
            ErrorCode::JobFinished,
            format!("this job is {}", job.state.as_str()),
        )),
        Err(None) => Err(job_not_found()),
    }
}
