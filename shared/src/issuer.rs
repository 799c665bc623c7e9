//! The enroll function (issuer side): drop-in routes of the card-issuance 3DS API, plus
//! bulk enrollment, with the enrollment status kept in the store.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::{self, ApiError, Caller, HasClientKeys, JsonBody};
use crate::clock::SharedClock;
use crate::config::{ClientKeys, EnrollConfig};
use crate::enrollment::Enrollments;
use crate::http_client::HttpClient;
use crate::store::SharedStore;
use crate::upstream::card_issuance::{
    CardEnrollmentRequest, CardIssuanceClient, CardholderQuery, CreateCardholderRequest,
    PATH_PREFIX, UpdateCardholderRequest, redact_security_answers,
};
use crate::validation as v;

/// Most items one bulk request may carry.
pub const MAX_BATCH_ITEMS: usize = 100;

pub struct IssuerApp {
    clients: ClientKeys,
    card_issuance: CardIssuanceClient,
    enrollments: Enrollments,
    batch_concurrency: usize,
    clock: SharedClock,
}

impl HasClientKeys for IssuerApp {
    fn client_keys(&self) -> &ClientKeys {
        &self.clients
    }
}

impl IssuerApp {
    pub fn new(
        config: &EnrollConfig,
        http: HttpClient,
        store: SharedStore,
        clock: SharedClock,
    ) -> Self {
        Self {
            clients: config.clients.clone(),
            card_issuance: CardIssuanceClient::new(http, &config.card_issuance),
            enrollments: Enrollments::new(store, clock.clone()),
            batch_concurrency: config.batch_concurrency,
            clock,
        }
    }

    fn today(&self) -> chrono::NaiveDate {
        crate::clock::utc_date(self.clock.now_ms())
    }

    /// Enrolls upstream, then records the status. A store failure after the upstream
    /// said yes is reported (502/504) so the caller retries; the retry's 409 is then
    /// reconciled as enrolled and recorded.
    async fn enroll_card(
        &self,
        request: &CardEnrollmentRequest,
        caller: &Caller,
    ) -> Result<Value, ApiError> {
        let enrolled = self.card_issuance.enroll(request).await?;
        self.enrollments
            .record_confirmed(&request.card_id, &request.cardholder_id, &caller.client_id)
            .await?;
        tracing::info!(reconciled = enrolled.reconciled, "card enrolled for 3DS");
        Ok(enrolled.envelope)
    }
}

pub fn router(app: Arc<IssuerApp>) -> Router {
    let route = |path: &str| format!("{PATH_PREFIX}/{path}");
    Router::new()
        .route(&route("3ds/v2/enroll"), post(enroll))
        .route(&route("3ds/v2/enroll/batch"), post(enroll_batch))
        .route(&route("3ds/v2/update"), post(update_enrollment))
        .route(&route("3ds/v2/detail"), get(enrollment_detail))
        .route(&route("cardholders/v2/create"), post(create_cardholder))
        .route(&route("cardholders/v2/update"), post(update_cardholder))
        .route(&route("cardholders/v2/detail"), get(query_cardholders))
        .fallback(api::route_not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .with_state(app)
        .layer(middleware::map_response(api::card_issuance_envelope))
        .layer(middleware::from_fn(api::request_span))
}

fn note_card(card_id: &str) {
    tracing::Span::current().record("card_id", card_id);
}

async fn enroll(
    State(app): State<Arc<IssuerApp>>,
    caller: Caller,
    JsonBody(request): JsonBody<CardEnrollmentRequest>,
) -> Result<Json<Value>, ApiError> {
    request.validate("")?;
    note_card(&request.card_id);
    app.enroll_card(&request, &caller).await.map(Json)
}

async fn update_enrollment(
    State(app): State<Arc<IssuerApp>>,
    caller: Caller,
    JsonBody(request): JsonBody<CardEnrollmentRequest>,
) -> Result<Json<Value>, ApiError> {
    request.validate("")?;
    note_card(&request.card_id);
    let envelope = app.card_issuance.update_enrollment(&request).await?;
    app.enrollments
        .record_confirmed(&request.card_id, &request.cardholder_id, &caller.client_id)
        .await?;
    tracing::info!("3DS enrollment re-pointed to another cardholder");
    Ok(Json(envelope))
}

async fn enrollment_detail(
    State(app): State<Arc<IssuerApp>>,
    _caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let card_id = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "card_id")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let card_id = v::identifier("card_id", &card_id, 64)?;
    note_card(card_id);
    let mut envelope = app.card_issuance.enrollment_detail(card_id).await?;
    redact_security_answers(&mut envelope);
    Ok(Json(envelope))
}

async fn create_cardholder(
    State(app): State<Arc<IssuerApp>>,
    _caller: Caller,
    JsonBody(request): JsonBody<CreateCardholderRequest>,
) -> Result<Json<Value>, ApiError> {
    request.validate(app.today())?;
    let mut envelope = app.card_issuance.create_cardholder(&request).await?;
    redact_security_answers(&mut envelope);
    tracing::info!("cardholder 3DS contact created");
    Ok(Json(envelope))
}

async fn update_cardholder(
    State(app): State<Arc<IssuerApp>>,
    _caller: Caller,
    JsonBody(request): JsonBody<UpdateCardholderRequest>,
) -> Result<Json<Value>, ApiError> {
    request.validate(app.today())?;
    let mut envelope = app.card_issuance.update_cardholder(&request).await?;
    redact_security_answers(&mut envelope);
    tracing::info!("cardholder 3DS contact updated");
    Ok(Json(envelope))
}

async fn query_cardholders(
    State(app): State<Arc<IssuerApp>>,
    _caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = CardholderQuery::parse(query.as_deref())?;
    let mut envelope = app.card_issuance.query_cardholders(&query).await?;
    redact_security_answers(&mut envelope);
    Ok(Json(envelope))
}

#[derive(Debug, Deserialize)]
struct BatchRequest {
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

/// `POST 3ds/v2/enroll/batch`: the seed's bulk enrollment. Every item is validated before
/// any upstream call; then items run with bounded concurrency (the client's rate limit
/// keeps the burst under the upstream's 1000 requests / 10 s), and each gets its own
/// result: one failing item never fails the rest.
async fn enroll_batch(
    State(app): State<Arc<IssuerApp>>,
    caller: Caller,
    JsonBody(request): JsonBody<BatchRequest>,
) -> Result<Json<Value>, ApiError> {
    let items = request.items;
    if items.is_empty() {
        return Err(ApiError::invalid("items", "must contain at least one item"));
    }
    if items.len() > MAX_BATCH_ITEMS {
        return Err(ApiError::invalid(
            "items",
            format!("must contain at most {MAX_BATCH_ITEMS} items"),
        ));
    }
    for (i, item) in items.iter().enumerate() {
        item.validate(&format!("items[{i}]."))?;
        if items[..i]
            .iter()
            .any(|earlier| earlier.card_id == item.card_id)
        {
            return Err(ApiError::invalid(
                format!("items[{i}].card_id"),
                "appears more than once in this batch",
            ));
        }
    }
    let app = &app;
    let caller = &caller;
    let mut results: Vec<(usize, BatchItemResult)> =
        futures_util::stream::iter(items.into_iter().enumerate())
            .map(|(i, item)| async move {
                let outcome = app.enroll_card(&item, caller).await;
                let result = match outcome {
                    Ok(_) => BatchItemResult {
                        card_id: item.card_id,
                        cardholder_id: item.cardholder_id,
                        status: "ENROLLED",
                        http_status: None,
                        code: None,
                        message: None,
                    },
                    Err(error) => {
                        tracing::warn!(item = i, code = error.code(), "batch item failed");
                        BatchItemResult {
                            card_id: item.card_id,
                            cardholder_id: item.cardholder_id,
                            status: "FAILED",
                            http_status: Some(error.status().as_u16()),
                            code: Some(error.code().to_owned()),
                            message: Some(error.public_message()),
                        }
                    }
                };
                (i, result)
            })
            .buffer_unordered(app.batch_concurrency)
            .collect()
            .await;
    results.sort_by_key(|(i, _)| *i);
    let enrolled = results
        .iter()
        .filter(|(_, r)| r.status == "ENROLLED")
        .count();
    let results: Vec<BatchItemResult> = results.into_iter().map(|(_, r)| r).collect();
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
