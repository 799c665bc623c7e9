//! `POST 3ds/v2/enroll/batch`: the documentation's bulk enrollment as one request.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use futures_util::StreamExt as _;
use gateway::error::ApiError;
use gateway::http::{IssuerCaller, JsonBody};
use gateway::outbound::UpstreamError;
use gateway::upstream::card_issuance::wire::CardEnrollmentRequest;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::State as AppState;
use crate::enroller::CardLink;

/// Most items one bulk request may carry.
const MAX_BATCH_ITEMS: usize = 100;

#[derive(Debug, Deserialize)]
pub(crate) struct BatchRequest {
    #[serde(default)]
    items: Vec<CardEnrollmentRequest>,
}

#[derive(Debug, Serialize)]
struct BatchItemResult {
    card_id: String,
    cardholder_id: String,
    /// `ENROLLED`, `FAILED`, or `TIMEOUT` (not finished by the batch's deadline: safe
    /// to resend, a repeat of an enroll that landed is reconciled).
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// How one item ended.
enum ItemOutcome {
    Finished(Result<Value, ApiError>),
    /// The batch's deadline came first.
    Unfinished,
}

impl BatchItemResult {
    fn of(link: CardLink, outcome: ItemOutcome) -> Self {
        let (status, http_status, code, message) = match outcome {
            ItemOutcome::Finished(Ok(_)) => ("ENROLLED", None, None, None),
            ItemOutcome::Unfinished
            | ItemOutcome::Finished(Err(ApiError::Upstream(UpstreamError::Timeout { .. }))) => (
                "TIMEOUT",
                None,
                None,
                Some("not finished within the batch's time; safe to resend".to_owned()),
            ),
            ItemOutcome::Finished(Err(error)) => (
                "FAILED",
                Some(error.status()),
                Some(error.code().to_owned()),
                Some(error.public_message()),
            ),
        };
        Self {
            card_id: link.card_id.to_string(),
            cardholder_id: link.cardholder_id.to_string(),
            status,
            http_status,
            code,
            message,
        }
    }
}

/// Every item is checked before any upstream call (a batch is refused whole, naming the
/// item's field); then items run with bounded concurrency (the client's rate limit keeps
/// the burst under the upstream's 1000 requests / 10 s), and each gets its own result:
/// one failing item never fails the rest. The batch answers by its deadline
/// (`ENROLL_BATCH_DEADLINE_MS`, 25 s): items not finished by then are `TIMEOUT`.
pub(crate) async fn enroll_batch(
    State(app): State<AppState>,
    caller: IssuerCaller,
    JsonBody(request): JsonBody<BatchRequest>,
) -> Result<Json<Value>, ApiError> {
    let links = parse_items(&request.items)?;
    let deadline = Instant::now() + app.batch_deadline;
    let app = &app;
    let caller = &caller;
    let mut results: Vec<(usize, BatchItemResult)> =
        futures_util::stream::iter(links.into_iter().enumerate())
            .map(|(i, link)| async move {
                let enroll = async {
                    let enrolled = app.enroll_card(&link, caller, Some(deadline)).await?;
                    Ok(enrolled.envelope)
                };
                let outcome = match tokio::time::timeout_at(deadline.into(), enroll).await {
                    Ok(finished) => ItemOutcome::Finished(finished),
                    Err(_) => ItemOutcome::Unfinished,
                };
                if let ItemOutcome::Finished(Err(error)) = &outcome {
                    tracing::warn!(item = i, code = error.code(), "batch item failed");
                }
                (i, BatchItemResult::of(link, outcome))
            })
            .buffer_unordered(app.batch_concurrency)
            .collect()
            .await;
    results.sort_by_key(|(i, _)| *i);
    let results: Vec<BatchItemResult> = results.into_iter().map(|(_, r)| r).collect();
    let count = |status: &str| results.iter().filter(|r| r.status == status).count();
    let (enrolled, failed, timed_out) = (count("ENROLLED"), count("FAILED"), count("TIMEOUT"));
    tracing::info!(
        total = results.len(),
        enrolled,
        timed_out,
        "batch enrollment finished"
    );
    Ok(Json(json!({
        "code": "SUCCESS",
        "data": {
            "total": results.len(),
            "enrolled": enrolled,
            "failed": failed,
            "timed_out": timed_out,
            "results": results,
        }
    })))
}

fn parse_items(items: &[CardEnrollmentRequest]) -> Result<Vec<CardLink>, ApiError> {
    if items.is_empty() {
        return Err(ApiError::invalid("items", "must contain at least one item"));
    }
    if items.len() > MAX_BATCH_ITEMS {
        return Err(ApiError::invalid(
            "items",
            format!("must contain at most {MAX_BATCH_ITEMS} items"),
        ));
    }
    let mut links: Vec<CardLink> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let link = CardLink::parse(item, &format!("items[{i}]."))?;
        if links.iter().any(|earlier| earlier.card_id == link.card_id) {
            return Err(ApiError::invalid(
                format!("items[{i}].card_id"),
                "appears more than once in this batch",
            ));
        }
        links.push(link);
    }
    Ok(links)
}
