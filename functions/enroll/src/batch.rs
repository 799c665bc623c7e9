//! `POST 3ds/v2/enroll/batch`: the documentation's bulk enrollment as one request.

use axum::Json;
use axum::extract::State;
use futures_util::StreamExt as _;
use gateway::error::ApiError;
use gateway::http::{IssuerCaller, JsonBody};
use gateway::upstream::card_issuance::wire::CardEnrollmentRequest;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::State as AppState;
use crate::cards::CardLink;

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
    /// `ENROLLED` or `FAILED`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

impl BatchItemResult {
    fn of(link: CardLink, outcome: Result<Value, ApiError>) -> Self {
        let (status, http_status, code, message) = match outcome {
            Ok(_) => ("ENROLLED", None, None, None),
            Err(error) => (
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
/// one failing item never fails the rest.
pub(crate) async fn enroll_batch(
    State(app): State<AppState>,
    caller: IssuerCaller,
    JsonBody(request): JsonBody<BatchRequest>,
) -> Result<Json<Value>, ApiError> {
    let links = parse_items(&request.items)?;
    let app = &app;
    let caller = &caller;
    let mut results: Vec<(usize, BatchItemResult)> =
        futures_util::stream::iter(links.into_iter().enumerate())
            .map(|(i, link)| async move {
                let outcome = app.enroll_card(&link, caller).await;
                if let Err(error) = &outcome {
                    tracing::warn!(item = i, code = error.code(), "batch item failed");
                }
                (i, BatchItemResult::of(link, outcome))
            })
            .buffer_unordered(app.batch_concurrency)
            .collect()
            .await;
    results.sort_by_key(|(i, _)| *i);
    let results: Vec<BatchItemResult> = results.into_iter().map(|(_, r)| r).collect();
    let enrolled = results.iter().filter(|r| r.status == "ENROLLED").count();
    tracing::info!(total = results.len(), enrolled, "batch enrollment finished");
    Ok(Json(json!({
        "code": "SUCCESS",
        "data": {
            "total": results.len(),
            "enrolled": enrolled,
            "failed": results.len() - enrolled,
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
